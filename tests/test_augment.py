"""DiffAugment, ADA and data-level augmentation: shapes, determinism, gradients and values."""

import pytest
import torch

from gankit.augment import (
    ada_augment,
    ada_update,
    diff_augment,
    parse_pipe,
    parse_policy,
    random_crop,
    random_flip,
)
from gankit.errors import GankitError

ALL_POLICY = ("color", "translation", "cutout")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 8, c: int = 3, h: int = 16, w: int = 16, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=gen(seed)) * 2 - 1


AUGMENTS = [
    pytest.param(lambda x, g: diff_augment(x, ALL_POLICY, g), id="diffaug"),
    pytest.param(lambda x, g: ada_augment(x, 0.6, "bgc", g), id="ada"),
]


@pytest.mark.parametrize("fn", AUGMENTS)
@pytest.mark.parametrize("shape", [(4, 3, 16, 16), (3, 1, 12, 20)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_and_dtype_kept(fn, shape, dtype):
    x = images(*shape).to(dtype)
    y = fn(x, gen())
    assert y.shape == x.shape and y.dtype == dtype and torch.isfinite(y).all()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_data_level_keeps_shape_and_dtype(dtype):
    x = (images(5, 3, 8, 8) * 100 + 120).to(dtype)
    for y in (random_crop(x, 2, gen()), random_flip(x, gen())):
        assert y.shape == x.shape and y.dtype == dtype


@pytest.mark.parametrize("fn", AUGMENTS + [
    pytest.param(lambda x, g: random_crop(x, 3, g), id="crop"),
    pytest.param(random_flip, id="flip"),
])
def test_same_generator_state_gives_same_output(fn):
    x, g = images(), gen(5)
    state = g.get_state()
    first = fn(x, g)
    after_first = g.get_state()
    g.set_state(state)
    assert torch.equal(fn(x, g), first)
    assert torch.equal(g.get_state(), after_first)  # same number of draws both times
    assert not torch.equal(fn(x, g), first)  # the next call moves on


def test_draw_count_does_not_depend_on_p_or_pixels():
    states = []
    for p, x in ((0.0, images(seed=1)), (0.7, images(seed=2)), (1.0, -images(seed=3))):
        g = gen(9)
        ada_augment(x, p, "bgc", g)
        states.append(g.get_state())
    assert all(torch.equal(s, states[0]) for s in states)


@pytest.mark.parametrize("fn", AUGMENTS)
def test_gradient_reaches_input(fn):
    x = images().requires_grad_(True)
    weights = torch.rand(x.shape, generator=gen(3))
    (fn(x, gen()) * weights).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_ada_is_identity_at_p0():
    x = images()
    assert torch.equal(ada_augment(x, 0.0, "bgc", gen()), x)


@pytest.mark.parametrize("pipe, c", [("bgc", 3), ("g", 1), ("c", 1), ("c", 3)])
def test_ada_at_p1_changes_every_sample(pipe, c):
    x = images(16, c)
    y = ada_augment(x, 1.0, pipe, gen())
    changed = (y - x).abs().flatten(1).amax(dim=1) > 1e-3
    assert changed.all()


def test_ada_geometric_stays_in_input_range():
    x = images(16, 3, 16, 16) * 0.3 + 0.5  # in [0.2, 0.8]: a zero fill would show
    y = ada_augment(x, 0.8, "bg", gen())
    assert y.min() >= x.min() - 1e-5 and y.max() <= x.max() + 1e-5


def test_ada_blit_moves_whole_pixels():
    x = images(8, 1, 12, 12)
    y = ada_augment(x, 1.0, "b", gen())
    # every output pixel is one of the input pixels of its image: no interpolation
    dist = (y.flatten(1)[:, :, None] - x.flatten(1)[:, None, :]).abs().amin(dim=2)
    assert dist.max() < 1e-4


def test_ada_colour_on_grey_is_per_image_scale_and_offset():
    x = images(6, 1, 8, 8)
    y = ada_augment(x, 1.0, "c", gen())
    xf, yf = x.flatten(1), y.flatten(1)
    scale = (yf[:, 1] - yf[:, 0]) / (xf[:, 1] - xf[:, 0])
    offset = yf[:, 0] - scale * xf[:, 0]
    assert torch.allclose(yf, xf * scale[:, None] + offset[:, None], atol=1e-5)
    # stylegan2-ada's grey path keeps the luma flip (x -> -x): some scales are negative
    y = ada_augment(images(64, 1, 8, 8), 1.0, "c", gen())
    many = ada_augment(images(64, 1, 8, 8), 0.0, "c", gen())
    yf, xf = y.flatten(1), many.flatten(1)
    scale = (yf[:, 1] - yf[:, 0]) / (xf[:, 1] - xf[:, 0])
    assert (scale < 0).any() and (scale > 0).any()


def test_ada_colour_keeps_grey_pixels_grey_and_colours_rgb():
    grey = images(8, 1, 6, 6).expand(8, 3, 6, 6)
    y = ada_augment(grey, 1.0, "c", gen())  # every op maps the luma axis to itself
    assert torch.allclose(y, y[:, :1].expand_as(y), atol=1e-5)
    x = images(8, 3, 6, 6)
    y = ada_augment(x, 1.0, "c", gen())  # hue/saturation change chroma, not just luma
    chroma_in = x - x.mean(dim=1, keepdim=True)
    chroma_out = y - y.mean(dim=1, keepdim=True)
    ratio = (chroma_out.flatten(1) / chroma_in.flatten(1))
    assert not torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-3)


def test_ada_update_against_hand_computation():
    assert ada_update(0.1, 0.7, 0.6, 256, 500) == pytest.approx(0.1 + 256 / 500_000, abs=1e-15)
    assert ada_update(0.1, 0.5, 0.6, 256, 500) == pytest.approx(0.1 - 256 / 500_000, abs=1e-15)
    assert ada_update(0.1, 0.6, 0.6, 256, 500) == 0.1


def test_ada_update_clamps_to_unit_interval():
    assert ada_update(0.0001, 0.0, 0.6, 4096, 1) == 0.0
    assert ada_update(0.9999, 1.0, 0.6, 4096, 1) == 1.0


def test_translation_moves_a_bright_pixel_by_an_allowed_integer():
    n, h, w = 64, 16, 16  # largest shift round(16 / 8) = 2
    x = torch.full((n, 1, h, w), -1.0)
    x[:, :, 8, 8] = 1.0
    g = gen()
    y = diff_augment(x, "translation", g)
    seen = set()
    for i in range(n):
        pos = (y[i, 0] == 1.0).nonzero()
        assert pos.shape[0] == 1
        dy, dx = int(pos[0, 0]) - 8, int(pos[0, 1]) - 8
        assert abs(dy) <= 2 and abs(dx) <= 2
        seen.add((dy, dx))
        expected = torch.zeros(h, w)  # the cut-in border is the pad value 0
        expected[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = -1.0
        expected[8 + dy, 8 + dx] = 1.0
        assert torch.equal(y[i, 0], expected)
    assert {d for d, _ in seen} == {-2, -1, 0, 1, 2} and {d for _, d in seen} == {-2, -1, 0, 1, 2}


def test_cutout_zeroes_one_half_size_square_clipped_at_edges():
    n, h, w, side = 64, 12, 12, 6
    y = diff_augment(torch.ones(n, 3, h, w), "cutout", gen())
    clipped = 0
    for i in range(n):
        zero = y[i] == 0
        assert torch.equal(zero, zero[:1].expand_as(zero))  # same square on every channel
        rows, cols = zero[0].any(1).nonzero()[:, 0], zero[0].any(0).nonzero()[:, 0]
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        box = torch.zeros(h, w, dtype=torch.bool)
        box[r0:r1, c0:c1] = True
        assert torch.equal(zero[0], box) and (y[i][~zero] == 1).all()
        for lo, hi, size in ((r0, r1, h), (c0, c1, w)):
            assert side // 2 <= hi - lo <= side
            assert hi - lo == side or lo == 0 or hi == size  # short only where clipped
        clipped += int(r1 - r0 < side or c1 - c0 < side)
    assert 0 < clipped < n


def test_diffaug_color_leaves_the_range_and_translation_cutout_keep_values():
    x = images(32)
    assert diff_augment(x, "color", gen()).abs().max() > 1.0  # not clamped, as in the paper
    y = diff_augment(x, ("translation", "cutout"), gen())
    assert y.min() >= -1 and y.max() <= 1


def test_random_crop_pad0_is_identity_and_pad_shifts():
    x = (images(16, 3, 8, 8) * 100 + 120).to(torch.uint8)
    assert torch.equal(random_crop(x, 0, gen()), x)
    y = random_crop(x, 2, gen())
    assert not torch.equal(y, x) and (y == 0).any()  # zero padding comes in


def test_random_flip_flips_about_half():
    x = images(2000, 1, 2, 3)
    y = random_flip(x, gen())
    flipped = (y == x.flip(3)).flatten(1).all(1)
    kept = (y == x).flatten(1).all(1)
    assert (flipped ^ kept).all()
    assert 900 < int(flipped.sum()) < 1100


def test_parse_policy():
    assert parse_policy("color, translation,cutout") == ALL_POLICY
    assert parse_policy("") == () and parse_policy("none") == ()
    assert parse_pipe("cgb") == "bgc" and parse_pipe("none") == ""


@pytest.mark.parametrize("call, key, bad, allowed", [
    (lambda: parse_policy("color,zoom"), "aug.policy", "zoom", ["color", "translation", "cutout"]),
    (lambda: diff_augment(images(), ("blur",), gen()), "aug.policy", "blur", ["cutout"]),
    (lambda: parse_pipe("bgx"), "aug.pipe", "x", ["b (blit)", "g (geometric)", "c (colour)"]),
    (lambda: ada_augment(images(), 0.5, "bq", gen()), "aug.pipe", "q", ["b (blit)"]),
])
def test_bad_names_raise_gankit_error(call, key, bad, allowed):
    with pytest.raises(GankitError) as info:
        call()
    msg = str(info.value)
    assert "\n" not in msg and key in msg and repr(bad) in msg
    assert all(a in msg for a in allowed)


def test_bad_numbers_raise_gankit_error():
    with pytest.raises(GankitError, match="p must be"):
        ada_augment(images(), 1.5, "b", gen())
    with pytest.raises(GankitError, match="kimg"):
        ada_update(0.1, 0.7, 0.6, 256, 0)
    with pytest.raises(GankitError, match="pad"):
        random_crop(images(), -1, gen())
