"""Inpainting masks: shapes, sizes, fixed draw counts (exact resume), compositing, mask files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import masks
from gankit.data.masks import (
    MASK_KINDS,
    apply_mask,
    composite,
    load_mask,
    mixed_masks,
    rect_masks,
    stroke_masks,
)
from gankit.errors import GankitError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def state_after_uniforms(seed: int, count: int) -> torch.Tensor:
    """The generator state after `count` float64 uniforms, the draws the mask functions make."""
    g = gen(seed)
    torch.rand(count, generator=g, dtype=torch.float64)
    return g.get_state()


def bbox_area(m: torch.Tensor) -> int:
    rows, cols = m.nonzero(as_tuple=True)
    return int((rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1))


# ---------------------------------------------------------------- shapes and values


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_shapes_and_values(kind):
    m = mixed_masks(5, 24, 32, gen(), kind)
    assert m.shape == (5, 1, 24, 32) and m.dtype == torch.float32
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    assert mixed_masks(0, 24, 32, gen(), kind).shape == (0, 1, 24, 32)


def test_rect_sizes_within_fractions():
    m = rect_masks(64, 40, 80, gen(), min_frac=0.25, max_frac=0.5)[:, 0]
    for one in m:
        rows, cols = one.nonzero(as_tuple=True)
        h, w = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert int(one.sum()) == h * w  # a filled rectangle
        assert 10 <= h <= 20 and 20 <= w <= 40  # 0.25..0.5 of 40 and of 80
    sizes = m.sum((1, 2))
    assert sizes.min() < sizes.max()  # not all the same rectangle


def test_rect_full_size():
    assert rect_masks(3, 8, 8, gen(), min_frac=1.0, max_frac=1.0).eq(1).all()


def test_strokes_are_free_form():
    m = stroke_masks(32, 64, 64, gen())[:, 0]
    share = m.mean((1, 2))
    assert (share > 0).all()  # every image has a hole (brush >= 2 px)
    assert 0.01 < float(share.mean()) < 0.6
    assert len({tuple(one.flatten().tolist()) for one in m}) == 32  # all differ
    # not rectangles: most holes fill well under their bounding box
    assert sum(int(one.sum()) < 0.8 * bbox_area(one) for one in m) > 16


def test_stroke_window_matches_whole_image_raster():
    """Rasterising each segment in a window that holds it = computing every pixel's distance."""
    g = gen(3)
    a = torch.rand(40, 2, generator=g, dtype=torch.float64) * 30
    b = (a + (torch.rand(40, 2, generator=g, dtype=torch.float64) - 0.5) * 16).clamp(0, 30)
    r = 1 + 2 * torch.rand(40, generator=g, dtype=torch.float64)
    img = torch.arange(40) % 4
    windowed = torch.zeros(4, 30, 30, dtype=torch.bool)
    full = torch.zeros(4, 30, 30, dtype=torch.bool)
    masks._draw_segments(windowed, img, a, b, r, (8 + 6 + 2, 8 + 6 + 2))  # |b - a| <= 8, 2r <= 6
    masks._draw_segments(full, img, a, b, r, (30, 30))
    assert torch.equal(windowed, full) and windowed.any()


def test_segment_distance_by_hand():
    a = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 4.0]], dtype=torch.float64)  # (y, x): along x from 0 to 4
    py = torch.tensor([3.0, 0.0, -3.0], dtype=torch.float64).view(1, 3, 1)
    px = torch.tensor([2.0, 7.0], dtype=torch.float64).view(1, 1, 2)
    d = masks._segment_distance(py, px, a, b)[0]
    # (3, 2): 3 above the middle; (3, 7): from the end (0, 4), sqrt(9 + 9); (0, 7): 3 past it
    expected = torch.tensor([[3.0, 18 ** 0.5], [0.0, 3.0], [3.0, 18 ** 0.5]], dtype=torch.float64)
    assert torch.allclose(d, expected, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- randomness


@pytest.mark.parametrize("fn, count", [
    (lambda g: rect_masks(6, 16, 20, g), 6 * 4),
    (lambda g: stroke_masks(6, 16, 20, g), 6 * (1 + 4 * (4 + 2 * 8))),
    (lambda g: stroke_masks(6, 16, 20, g, max_strokes=2, max_vertices=3), 6 * (1 + 2 * (4 + 6))),
    (lambda g: mixed_masks(6, 16, 20, g, "mixed"), 7 + 6 * 4 + 6 * (1 + 4 * (4 + 2 * 8))),
])
def test_fixed_draw_count(fn, count):
    """Different seeds give different masks (different hole sizes) but advance the generator
    by the same count of draws, so its state after a call does not depend on the outcome."""
    holes = set()
    for seed in (0, 1, 2):
        g = gen(seed)
        holes.add(float(fn(g).sum()))
        assert torch.equal(g.get_state(), state_after_uniforms(seed, count))
    assert len(holes) == 3


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_same_seed_same_masks(kind):
    assert torch.equal(mixed_masks(4, 16, 16, gen(7), kind), mixed_masks(4, 16, 16, gen(7), kind))
    assert not torch.equal(mixed_masks(4, 16, 16, gen(7), kind),
                           mixed_masks(4, 16, 16, gen(8), kind))


@pytest.mark.parametrize("n", [8, 7])
def test_mixed_is_half_of_each(n):
    m = mixed_masks(n, 32, 32, gen(5), "mixed")
    g = gen(5)
    torch.rand(n + 1, generator=g, dtype=torch.float64)  # the per-image choice
    rect, stroke = rect_masks(n, 32, 32, g), stroke_masks(n, 32, 32, g)
    is_rect = [torch.equal(m[i], rect[i]) for i in range(n)]
    assert all(r or torch.equal(m[i], stroke[i]) for i, r in enumerate(is_rect))
    assert sum(is_rect) in {n // 2, (n + 1) // 2}


# ---------------------------------------------------------------- applying masks


def test_apply_mask_and_composite():
    g = gen(1)
    known = torch.rand(4, 3, 16, 16, generator=g) * 2 - 1
    filled = torch.rand(4, 3, 16, 16, generator=g) * 2 - 1
    m = rect_masks(4, 16, 16, g)
    hole = m.expand_as(known).bool()
    masked = apply_mask(known, m)
    assert torch.equal(masked[hole], torch.zeros(int(hole.sum())))
    assert torch.equal(masked[~hole], known[~hole])
    out = composite(known, filled, m)
    assert out.shape == known.shape
    assert torch.equal(out[~hole], known[~hole]) and torch.equal(out[hole], filled[hole])
    one = composite(known, filled, m[:1])  # one mask for the batch
    assert torch.equal(one[~m[:1].expand_as(known).bool()], known[~m[:1].expand_as(known).bool()])


def test_composite_bad_shapes():
    x = torch.zeros(2, 3, 8, 8)
    with pytest.raises(GankitError, match=r"mask is \(2, 1, 4, 4\)"):
        composite(x, x, torch.zeros(2, 1, 4, 4))
    with pytest.raises(GankitError, match="x_filled"):
        composite(x, torch.zeros(2, 3, 4, 4), torch.zeros(2, 1, 8, 8))
    with pytest.raises(GankitError, match="mask"):
        apply_mask(x, torch.zeros(2, 3, 8, 8))


# ---------------------------------------------------------------- mask files


def test_load_mask_white_is_hole(tmp_path):
    grey = np.zeros((4, 6), np.uint8)
    grey[1:3, 2:5] = 255
    grey[0, 0] = 127  # not above 127: known
    grey[3, 5] = 128  # above: hole
    path = tmp_path / "m.png"
    Image.fromarray(grey).convert("RGB").save(path)
    m = load_mask(path, size=(4, 6))
    assert m.shape == (1, 1, 4, 6) and m.dtype == torch.float32
    assert torch.equal(m[0, 0], torch.from_numpy(grey > 127).float())


def test_load_mask_without_hole(tmp_path):
    path = tmp_path / "empty.png"
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(path)
    assert torch.equal(load_mask(path), torch.zeros(1, 1, 3, 3))


def test_load_mask_size_mismatch(tmp_path):
    path = tmp_path / "m.png"
    Image.fromarray(np.zeros((4, 6), np.uint8)).save(path)  # 6 wide, 4 high
    with pytest.raises(GankitError) as err:
        load_mask(path, size=(4, 5))
    msg = str(err.value)
    assert str(path) in msg and "6x4" in msg and "5x4" in msg


def test_load_mask_unreadable(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image\n")
    with pytest.raises(GankitError, match="notes.txt"):
        load_mask(path)
    with pytest.raises(GankitError, match="missing.png"):
        load_mask(tmp_path / "missing.png")


# ---------------------------------------------------------------- bad arguments


def test_bad_arguments():
    with pytest.raises(GankitError, match=r"kind 'box'.*rect, stroke, mixed"):
        mixed_masks(2, 8, 8, gen(), "box")
    with pytest.raises(GankitError, match="min_frac=0.6 must be <= max_frac=0.5"):
        rect_masks(2, 8, 8, gen(), min_frac=0.6)
    with pytest.raises(GankitError, match="max_frac"):
        rect_masks(2, 8, 8, gen(), max_frac=1.5)
    with pytest.raises(GankitError, match="n must be"):
        rect_masks(-1, 8, 8, gen())
    with pytest.raises(GankitError, match="width"):
        stroke_masks(2, 8, 0, gen())
    with pytest.raises(GankitError, match="max_strokes"):
        stroke_masks(2, 8, 8, gen(), max_strokes=0)
    with pytest.raises(GankitError, match="max_width_frac"):
        stroke_masks(2, 8, 8, gen(), max_width_frac=0.0)
