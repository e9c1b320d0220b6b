"""Tiled inference: equal to whole-image inference for local functions, bounded tile size,
padding to a multiple, and bad input."""

import pytest
import torch
from torch import nn

from gankit.errors import GankitError
from gankit.nets.image2image import SRResNetGenerator
from gankit.pipelines.tiles import pad_to_multiple, tiled, untiled


def local_fn(scale: int, pool: int = 1, convs: int = 1) -> nn.Module:
    """A random fully convolutional net: [avg-pool], `convs` 3x3 convs, nearest upsampling, and
    a 3x3 conv at the output resolution. One conv (and no pool) reaches 1 input pixel, plus
    1 through the last conv: well inside overlap // 2 = 2 for overlap 4."""
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.AvgPool2d(pool)] if pool > 1 else []
    layers += [nn.Conv2d(3, 4, 3, 1, 1), nn.Tanh()]
    layers += [m for _ in range(convs - 1) for m in (nn.Conv2d(4, 4, 3, 1, 1), nn.Tanh())]
    layers += [nn.Upsample(scale_factor=scale * pool), nn.Conv2d(4, 2, 3, 1, 1)]
    return nn.Sequential(*layers).eval()


@pytest.mark.parametrize("scale", [1, 2])
def test_tiled_equals_untiled_for_a_local_net(scale):
    fn = local_fn(scale)
    x = torch.rand(1, 3, 50, 37) * 2 - 1
    y = tiled(fn, x, tile=16, overlap=4, scale=scale)
    assert y.shape == (1, 2, 50 * scale, 37 * scale) and y.dtype == torch.float32
    torch.testing.assert_close(y, untiled(fn, x, scale=scale), rtol=0, atol=1e-5)


def test_tiled_pads_to_a_multiple_and_keeps_the_stride_grid():
    fn = local_fn(2, pool=2)  # total stride 2: needs even sizes and even tile origins
    x = torch.rand(1, 3, 50, 37) * 2 - 1  # fn reaches 2 input pixels + 1/4: overlap 6
    y = tiled(fn, x, tile=20, overlap=6, scale=2, multiple=2)
    assert y.shape == (1, 2, 100, 74)
    torch.testing.assert_close(y, untiled(fn, x, multiple=2, scale=2), rtol=0, atol=1e-5)


def test_tiled_identity_is_exact():
    x = torch.randint(0, 256, (1, 3, 50, 37)) / 128.0 - 1  # 8-bit data, as images are
    assert torch.equal(tiled(lambda t: t, x, tile=16, overlap=4), x)
    x = torch.rand(2, 3, 50, 37, dtype=torch.float64)
    y = tiled(lambda t: t, x, tile=16, overlap=4)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, x.float(), rtol=0, atol=1e-6)


def test_tiled_differs_when_the_receptive_field_exceeds_the_overlap():
    fn = local_fn(1, convs=6)  # reaches 6 input pixels, more than overlap // 2 = 2
    x = torch.rand(1, 3, 50, 37) * 2 - 1
    diff = (tiled(fn, x, tile=16, overlap=4) - untiled(fn, x)).abs().max()
    assert diff > 1e-3


def test_tile_size_bounds_what_fn_sees():
    seen = []

    def fn(t: torch.Tensor) -> torch.Tensor:
        seen.append(t.shape[-2:])
        return t

    x = torch.rand(1, 1, 300, 300)
    torch.testing.assert_close(tiled(fn, x, tile=64, overlap=8), x, rtol=0, atol=1e-6)
    assert max(h * w for h, w in seen) <= 64 * 64 and max(max(s) for s in seen) <= 64
    assert len(seen) == 36  # ceil((300 - 64) / 48) + 1 = 6 origins per axis
    seen.clear()
    small = torch.rand(1, 1, 20, 12)
    assert torch.equal(tiled(fn, small, tile=64, overlap=8), small)
    assert seen == [(20, 12)]  # an image smaller than the tile is one tile


def test_tiled_srresnet_end_to_end():
    torch.manual_seed(0)
    g = SRResNetGenerator(3, 2, width=4, blocks=1).eval()
    x = torch.rand(1, 3, 70, 61) * 2 - 1
    y = tiled(g, x, tile=48, overlap=22, scale=2)  # reach ~11 input pixels <= 22 // 2
    assert y.shape == (1, 3, 140, 122)
    torch.testing.assert_close(y, untiled(g, x, scale=2), rtol=0, atol=1e-5)


def test_pad_to_multiple_reflects_or_replicates():
    x = torch.arange(50 * 37, dtype=torch.float32).view(1, 1, 50, 37)
    padded, size = pad_to_multiple(x, 8)
    assert padded.shape == (1, 1, 56, 40) and size == (50, 37)
    assert torch.equal(padded[..., :50, :37], x)
    assert torch.equal(padded[..., 50, :37], x[..., 48, :])  # reflection, edge not repeated
    tiny = torch.rand(1, 2, 3, 5)
    padded, size = pad_to_multiple(tiny, 8)  # too small to reflect 5 rows
    assert padded.shape == (1, 2, 8, 8) and size == (3, 5)
    assert torch.equal(padded[..., 7, :5], tiny[..., 2, :])
    same, _ = pad_to_multiple(x, 1)
    assert same is x


def test_bad_input():
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(GankitError, match=r"tile=8.*at least"):
        tiled(lambda t: t, x, tile=8, overlap=4)  # needs 2 * 4 + 1
    assert tiled(lambda t: t, x, tile=9, overlap=4).shape == x.shape
    with pytest.raises(GankitError, match=r"tile=18.*multiple of 4"):
        tiled(lambda t: t, x, tile=18, overlap=2, multiple=4)
    with pytest.raises(GankitError, match="scale=2"):
        tiled(lambda t: t, x, tile=16, overlap=4, scale=2)  # fn does not upscale
    with pytest.raises(GankitError, match="multiple"):
        pad_to_multiple(x, 0)
