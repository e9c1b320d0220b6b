"""Config building, overrides and the errors a typo or bad value gives."""

import pytest

from gankit import checks, config
from gankit.errors import GankitError


def test_presets_load_and_validate():
    names = config.preset_names()
    for need in ("dcgan-mnist", "mlp-ring8", "mlp-grid25", "dcgan-digits"):
        assert need in names
    for name in names:
        cfg = config.build(name)
        assert cfg.train.steps > 0


def test_overrides_change_typed_values():
    cfg = config.build("dcgan-mnist", ["train.steps=2000", "loss=hinge", "optim.g_betas=[0.0, 0.9]",
                                       "train.threads=2", "optim.d_lr=1e-4"])
    assert cfg.train.steps == 2000 and cfg.loss == "hinge"
    assert cfg.optim.g_betas == (0.0, 0.9) and cfg.optim.d_lr == 1e-4
    assert isinstance(cfg.optim.d_lr, float)


@pytest.mark.parametrize("override,needle", [
    ("train.stepz=5", "unknown config key train.stepz; allowed keys in train: steps"),
    ("loss=hing", "loss: unknown loss 'hing'; allowed: hinge, lsgan, minimax, ns, wgan"),
    ("model.arch=vae", "model.arch: unknown architecture 'vae'; allowed: dcgan, mlp"),
    ("train.batch_size=0", "train.batch_size: must be > 0"),
    ("optim.g_lr=-1", "optim.g_lr: must be > 0"),
    ("train.steps=ten", "train.steps: expected an integer"),
    ("train.precision=fp8", "train.precision: 'fp8' is not allowed; choose one of: fp32, bf16, fp16"),
    ("data.name=cifar", "data.name: unknown data set 'cifar'"),
    ("data.channels=2", "data.channels: must be 1, 3 or null"),
    ("optim.g_betas=[0.5]", "optim.g_betas: expected a list of 2 numbers"),
    ("train.ema_beta=1.5", "train.ema_beta: must be in [0, 1)"),
    ("device=tpu", "device: 'tpu' is not allowed"),
    ("nonsense", "must look like key=value"),
])
def test_bad_config_names_the_key(override, needle):
    with pytest.raises(GankitError) as err:
        checks.check(config.build("dcgan-mnist", [override]))
    assert needle in str(err.value)


def test_unknown_section_and_bad_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trian:\n  steps: 3\n")
    with pytest.raises(GankitError, match="unknown config key trian; allowed keys in config"):
        config.build(str(bad))
    bad.write_text("train: [1, 2\n")
    with pytest.raises(GankitError, match="invalid YAML"):
        config.build(str(bad))
    with pytest.raises(GankitError, match="neither a preset"):
        config.build(str(tmp_path / "missing.yaml"))


def test_dump_round_trips():
    cfg = config.build("mlp-ring8", ["train.steps=7"])
    again = config.build(config.to_dict(cfg))
    assert again == cfg
    import yaml
    assert config.from_dict(config.Config, yaml.safe_load(config.dump(cfg))) == cfg


def test_config_imports_nothing_of_gankit_but_errors_and_registry():
    """No import circles: config.py is imported by everything, so it imports no gankit code
    but errors/registry (name checks live in gankit.checks)."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(config.__file__).read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in names if m.startswith("gankit")} <= {"gankit.errors", "gankit.registry"}
