"""Regularisers under mixed precision: D in bf16/fp16 autocast, penalties in float32."""

import pytest
import torch
from torch import nn

from gankit import checkpoint, config
from gankit.losses import Objective, gradient_penalty, r1_penalty
from gankit.train.loop import train


def _d():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 1), nn.Flatten(0))


def _penalties(d, real, fake, dtype):
    alpha = torch.linspace(0, 1, real.shape[0])
    ctx = (torch.autocast("cpu", dtype=dtype) if dtype is not None
           else torch.autocast("cpu", enabled=False))
    with ctx:
        fake = fake.to(dtype or torch.float32)  # what G makes under autocast
        x = real.detach().requires_grad_(True)
        r1 = r1_penalty(d(x), x, 10.0)
        gp = gradient_penalty(d, real, fake, alpha, 10.0)
    return r1, gp


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_r1_and_gp_run_in_low_precision_and_return_float32(dtype):
    d = _d()
    real, fake = torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)
    ref = _penalties(d, real, fake, None)
    low = _penalties(d, real, fake, dtype)
    for a, b in zip(ref, low):
        assert b.dtype == torch.float32 and torch.isfinite(b)
        torch.testing.assert_close(b, a, rtol=0.05, atol=1e-3)


def test_objective_terms_in_bf16():
    d = _d()
    obj = Objective.from_names("wgan", r1_gamma=1.0, gp_lambda=10.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = obj.d_losses(d, torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8).bfloat16(),
                             torch.Generator().manual_seed(0))
    assert {k for k in terms if "_acc_" not in k and "_logit_" not in k} == {"d_real", "d_fake", "d_r1", "d_gp"}
    assert all(t.dtype == torch.float32 and torch.isfinite(t) for t in terms.values())


@pytest.mark.parametrize("extra", [
    ["loss=wgan", "reg.gp_lambda=10", "model.d_norm=none"],
    ["loss=ns", "reg.r1_gamma=1.0", "model.d_norm=none"],
    ["loss=wgan", "reg.clip_d=0.01"],
])
def test_every_regulariser_trains_in_bf16(tmp_path, tiny_dcgan, extra):
    run = train(config.build(None, tiny_dcgan + extra + ["train.precision=bf16",
                                                         "train.steps=3"]), out=tmp_path / "r")
    st = checkpoint.load(run)["state"]
    assert st["step"] == 3
    if "reg.clip_d=0.01" in extra:
        assert all(v.abs().max() <= 0.01 for k, v in st["nets"]["d"].items() if v.is_floating_point()
                   and "running" not in k)


@pytest.mark.parametrize("extra,needle", [
    (["loss=wgan"], "loss=wgan needs a Lipschitz constraint on D"),
    (["loss=wgan", "reg.gp_lambda=10", "model.d_norm=batch"],
     "reg.gp_lambda > 0 with model.d_norm=batch"),
    (["reg.clip_d=-1"], "reg.clip_d: must be >= 0"),
    (["train.ema_rampup=-0.1"], "train.ema_rampup: must be >= 0"),
])
def test_nonsense_combinations_are_refused(tiny_dcgan, extra, needle):
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match=needle.replace("[", r"\[")):
        config.build(None, tiny_dcgan + extra)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_resolves_and_is_recorded(tmp_path, tiny_dcgan, monkeypatch, native):
    from gankit.train import loop

    monkeypatch.setattr(loop, "native_bf16", lambda device: native)
    run = train(config.build(None, tiny_dcgan + ["train.precision=auto", "train.steps=3"]),
                out=tmp_path / "r")
    want = "bf16" if native else "fp32"
    assert config.build(str(run / "config.yaml")).train.precision == want
    assert checkpoint.load(run)["config"]["train"]["precision"] == want


def test_emulated_bf16_is_warned_about(tmp_path, tiny_dcgan, monkeypatch, capsys):
    from gankit.train import loop

    monkeypatch.setattr(loop, "native_bf16", lambda device: False)
    train(config.build(None, tiny_dcgan + ["train.precision=bf16", "train.steps=2"]),
          out=tmp_path / "r")
    assert "no native bf16" in capsys.readouterr().out
