"""Shapes, ranges and bad input for every network family."""

import pytest
import torch

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets import ARCHS, PRIORS, build_net
from gankit.nets.dcgan import factor_resolution


@pytest.mark.parametrize("res,channels", [(8, 1), (28, 1), (32, 3), (64, 3), (48, 1)])
def test_dcgan_shapes(res, channels):
    m = ModelConfig(arch="dcgan", z_dim=10, g_width=8, d_width=8)
    g_spec, d_spec = ARCHS.get("dcgan")(m, (channels, res, res))
    g, d = build_net(g_spec), build_net(d_spec)
    x = g(torch.randn(3, 10))
    assert x.shape == (3, channels, res, res) and x.dtype == torch.float32
    assert x.abs().max() <= 1.0
    assert d(x).shape == (3,)


def test_dcgan_resolution_factoring():
    assert factor_resolution(28) == (7, 2)
    assert factor_resolution(64) == (4, 4)
    assert factor_resolution(8) == (4, 1)
    for bad in (7, 30, 100):
        with pytest.raises(GankitError, match="data.resolution"):
            factor_resolution(bad)


def test_mlp_points_and_images():
    m = ModelConfig(arch="mlp", z_dim=2, g_width=16, d_width=16, depth=2)
    g, d = (build_net(s) for s in ARCHS.get("mlp")(m, (2,)))
    pts = g(torch.randn(5, 2))
    assert pts.shape == (5, 2) and d(pts).shape == (5,)
    g, d = (build_net(s) for s in ARCHS.get("mlp")(m, (1, 8, 8)))
    img = g(torch.randn(5, 2))
    assert img.shape == (5, 1, 8, 8) and img.abs().max() <= 1 and d(img).shape == (5,)


def test_unconditional_nets_reject_a_condition():
    m = ModelConfig(arch="mlp", z_dim=2, g_width=4, d_width=4, depth=1)
    g, _ = (build_net(s) for s in ARCHS.get("mlp")(m, (2,)))
    with pytest.raises(ValueError):
        g(torch.randn(2, 2), torch.zeros(2))


def test_dcgan_init_follows_the_paper():
    torch.manual_seed(0)
    g_spec, _ = ARCHS.get("dcgan")(ModelConfig(g_width=64), (1, 28, 28))
    g = build_net(g_spec)
    conv = g.net[0].weight
    assert abs(conv.std().item() - 0.02) < 0.002 and abs(conv.mean().item()) < 0.002


def test_priors():
    gen = torch.Generator().manual_seed(0)
    u = PRIORS.get("uniform")(10000, 3, gen)
    assert u.min() >= -1 and u.max() <= 1 and abs(u.mean().item()) < 0.03
    n = PRIORS.get("normal")(10000, 3, gen)
    assert abs(n.std().item() - 1) < 0.03


def test_dcgan_needs_square_images():
    with pytest.raises(GankitError, match="square"):
        ARCHS.get("dcgan")(ModelConfig(), (2,))


@pytest.mark.parametrize("res,channels", [(8, 1), (28, 1), (32, 3), (48, 1)])
def test_dcgan_resize_upsampling_shapes_and_layout(res, channels):
    """g_upsample=resize: every 2x step is nearest 2x + conv 3x3; only the s0 x s0 stem
    (a linear layer on z) stays a transposed conv."""
    m = ModelConfig(arch="dcgan", z_dim=10, g_width=8, g_upsample="resize")
    g = build_net(ARCHS.get("dcgan")(m, (channels, res, res))[0])
    x = g(torch.randn(3, 10))
    assert x.shape == (3, channels, res, res) and x.abs().max() <= 1.0
    kinds = [type(layer) for layer in g.net]
    assert kinds.count(torch.nn.ConvTranspose2d) == 1 and kinds[0] is torch.nn.ConvTranspose2d
    steps = factor_resolution(res)[1]
    ups = [i for i, k in enumerate(kinds) if k is torch.nn.Upsample]
    assert len(ups) == steps and all(kinds[i + 1] is torch.nn.Conv2d for i in ups)
    assert all(g.net[i + 1].kernel_size == (3, 3) for i in ups)


def test_dcgan_resize_draws_no_checkerboard():
    """On a constant feature map, a ConvT 4x4 stride 2 with (random) weights repeats a 2x2
    pattern (each output phase uses its own 2x2 slice of the kernel: the checkerboard),
    while nearest 2x + conv 3x3 stays constant inside the border. The bug this guards:
    'resize' silently building the ConvT layers."""
    def interior_spread(how: str) -> float:
        torch.manual_seed(0)
        m = ModelConfig(arch="dcgan", z_dim=4, g_width=4, g_upsample=how)
        g = build_net(ARCHS.get("dcgan")(m, (1, 16, 16))[0]).eval()
        last = torch.nn.Sequential(*g.net[-3:-1] if how == "resize" else g.net[-2:-1])
        with torch.no_grad():
            y = last(torch.ones(1, 4, 8, 8))  # the last 2x step alone (before tanh)
        return float(y[..., 2:-2, 2:-2].std())
    assert interior_spread("resize") == pytest.approx(0.0, abs=1e-7)
    assert interior_spread("deconv") > 1e-3


def test_dcgan_default_upsampling_keeps_its_seeded_weights():
    """The option is off by default: the seeded G has the weights it had before it existed
    (the checksum was taken from the code before the option)."""
    torch.manual_seed(0)
    g_spec, _ = ARCHS.get("dcgan")(ModelConfig(g_width=16), (1, 28, 28))
    assert "upsample" not in g_spec["kwargs"]
    g = build_net(g_spec)
    checksum = sum(float((p.double() * (i + 1)).sum()) for i, p in enumerate(g.state_dict().values()))
    assert checksum == pytest.approx(504.46720790462643, rel=1e-9)


def test_dcgan_unknown_upsampling_is_refused():
    with pytest.raises(GankitError, match="upsample 'bilinear'"):
        build_net({"name": "dcgan-g", "kwargs": {"z_dim": 4, "channels": 1, "resolution": 8,
                                                 "width": 4, "upsample": "bilinear"}})
