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
