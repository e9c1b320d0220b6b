"""EMA of G: the update formula, the StyleGAN2 ramp-up, and batch-norm statistics of the EMA G."""

import math

import pytest
import torch
from torch import nn

from gankit import checkpoint, config
from gankit.families import DataInfo, make_family
from gankit.nets import build_net
from gankit.train.ema import ema_beta, make_ema, recompute_bn_stats, update_ema
from gankit.train.hooks import bn_inputs
from gankit.train.loop import train


def test_update_is_beta_old_plus_one_minus_beta_new():
    g = nn.Linear(3, 2)
    ema = make_ema(g)
    old = ema.weight.clone()
    with torch.no_grad():
        g.weight.add_(1.0)
    update_ema(ema, g, 0.9)
    # beta weighs the old average, (1 - beta) the new weights: swapping them fails here
    torch.testing.assert_close(ema.weight, 0.9 * old + 0.1 * g.weight, rtol=0, atol=1e-6)
    update_ema(ema, g, 0.0)
    assert torch.equal(ema.weight, g.weight)


def test_rampup_caps_the_half_life():
    assert ema_beta(0.999, 0, 0.05) == 0.0  # the first update copies G
    assert ema_beta(0.999, 100, 0.05) == pytest.approx(0.5 ** (1 / 5.0), abs=1e-12)
    assert ema_beta(0.999, 10**6, 0.05) == 0.999  # ramp-up over: the configured beta
    assert ema_beta(0.999, 100, None) == 0.999 and ema_beta(0.0, 100, 0.05) == 0.0


def test_rampup_forgets_the_initial_weights():
    """The share of G's first 200 steps (random initial weights included) in a 2,000-step EMA
    with beta = 0.999: the product of the decays of every later update."""
    def share(rampup):
        return math.prod(ema_beta(0.999, t, rampup) for t in range(200, 2000))

    assert share(None) == pytest.approx(0.999 ** 1800) and share(None) > 0.16
    assert share(0.05) < 1e-6  # 0.5 ** (20 * sum(1/t)) = 0.5 ** (20 ln 10): about 1e-14


def _bn_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))


def test_recompute_bn_stats_gives_the_exact_moments():
    net = _bn_net()
    zs = [torch.randn(8, 4), torch.randn(8, 4) + 1]
    recompute_bn_stats(net, [(z,) for z in zs])
    pre = torch.cat([net[0](z) for z in zs]).detach()
    bn = net[1]
    # cumulative average of per-batch means and unbiased variances (equal batch sizes)
    mean = torch.stack([net[0](z).mean(0) for z in zs]).mean(0).detach()
    var = torch.stack([net[0](z).var(0, unbiased=True) for z in zs]).mean(0).detach()
    torch.testing.assert_close(bn.running_mean, mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var, var, rtol=1e-5, atol=1e-6)
    assert not net.training and bn.momentum == 0.1 and pre.shape == (16, 6)


def test_saved_ema_generator_has_its_own_bn_statistics(tmp_path, tiny_dcgan):
    cfg = config.build(None, tiny_dcgan)
    run = train(cfg, out=tmp_path / "run")
    ckpt = checkpoint.load(run)
    st = ckpt["state"]
    key = next(k for k in st["ema"]["g"] if k.endswith("running_mean"))
    assert not torch.equal(st["ema"]["g"][key], st["nets"]["g"][key])  # not G's statistics
    ema = build_net(ckpt["specs"]["g"])
    ema.load_state_dict(st["ema"]["g"])
    again = {k: v.clone() for k, v in ema.state_dict().items()}
    family = make_family(cfg, DataInfo(tuple(ckpt["data_shape"])))
    recompute_bn_stats(ema, bn_inputs(family, cfg))
    for k, v in ema.state_dict().items():
        torch.testing.assert_close(v, again[k], rtol=1e-5, atol=1e-6)
