"""Shared fixtures: tiny seeded configs that train in about a second on one CPU core."""

from __future__ import annotations

import pytest
import torch

from gankit import config

torch.set_num_threads(1)

TINY_DCGAN = ["data.name=digits", "model.arch=dcgan", "model.z_dim=8", "model.g_width=8",
              "model.d_width=8", "train.batch_size=16", "train.steps=6", "train.log_every=2",
              "train.sample_every=3", "train.ckpt_every=3", "train.n_samples=4",
              "train.tensorboard=false", "train.progress=false", "device=cpu"]
TINY_MLP = ["data.name=ring8", "model.arch=mlp", "model.z_dim=2", "model.g_width=16",
            "model.d_width=16", "model.depth=2", "model.d_norm=none", "train.batch_size=32",
            "train.steps=6", "train.log_every=2", "train.sample_every=3", "train.ckpt_every=3",
            "train.n_samples=16", "train.tensorboard=false", "train.progress=false", "device=cpu"]


@pytest.fixture
def tiny_dcgan() -> list[str]:
    return list(TINY_DCGAN)


@pytest.fixture
def tiny_mlp() -> list[str]:
    return list(TINY_MLP)


# health checks at every log step from step 0 on, on a few samples: exact-resume tests run
# the monitor in every family (its state is part of what must match)
HEALTH_ON = ["health.every=2", "health.warmup=0", "health.n=16"]


def checks(run) -> list[dict]:
    """The health checks a run recorded."""
    import json

    rows = [json.loads(x) for x in (run / "health.jsonl").read_text().splitlines()]
    return [r for r in rows if r["event"] == "check"]


def build(overrides: list[str]) -> config.Config:
    return config.build(None, overrides)


@pytest.fixture(scope="session", autouse=True)
def _no_machine_state(tmp_path_factory):
    """Nothing left on the machine (a feature cache, a weights file named in the environment)
    reaches a test, including module-scoped fixtures, which run before per-test fixtures."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.delenv("GANKIT_INCEPTION_WEIGHTS", raising=False)
    yield
    mp.undo()


def assert_same(a, b, path: str = "") -> None:
    """Equal nested checkpoint states: tensors bit for bit, everything else by ==."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), f"tensor differs at {path}"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a} != {b}"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))


def train_full_and_resumed(tmp_path, extra: list[str], steps: int = 4):
    """Train `steps` in one go and in two halves (the second resumed from the first's
    checkpoint); return (full run, resumed run) and check their states are bit-identical."""
    from gankit import checkpoint
    from gankit.train.loop import train

    full = train(config.build(None, extra), out=tmp_path / "full")
    half = train(config.build(None, [*extra, f"train.steps={steps // 2}"]), out=tmp_path / "half")
    train(None, resume=half, overrides=[f"train.steps={steps}"])
    assert_same(checkpoint.load(full)["state"], checkpoint.load(half)["state"])
    return full, half



# one tiny run of every kind the web app serves (tests/test_serve.py, tests/test_browser.py)
_WEB_COMMON = ["train.batch_size=4", "train.steps=4", "train.log_every=2", "train.sample_every=2",
               "train.ckpt_every=2", "train.tensorboard=false", "train.progress=false",
               "device=cpu"]
_I2I = ["model.g_width=8", "model.d_width=8", *_WEB_COMMON]
WEB_RUNS = {
    "dcgan": list(TINY_DCGAN),
    "cgan": [*TINY_DCGAN, "model.family=conditional"],
    "infogan": [*TINY_DCGAN, "model.family=infogan", "model.cat_codes=[10]",
                "model.cont_codes=1"],
    "ring": list(TINY_MLP),
    "clips": ["data.name=moving-mnist", "data.frames=4", "data.resolution=16",
              "model.family=sequence", "model.z_dim=8", "model.motion_dim=4", "model.g_width=8",
              "model.d_width=8", "train.n_samples=4", *_WEB_COMMON],
    "inpaint": ["model.family=image2image", "data.name=photos", "data.resolution=32",
                "data.pairs=inpaint", *_I2I],
    "superres": ["model.family=superres", "data.name=photos", "data.resolution=24",
                 "model.scale=3", "model.blocks=1", "train.pretrain_steps=2",
                 "reg.fm_weight=1", "model.d_norm=none", *_I2I],
    "cyclegan": ["model.family=cyclegan", "data.name=mnist5k", "data.name_b=digits",
                 "data.resolution=16", "model.blocks=1", "model.d_norm=instance", "loss=lsgan",
                 "reg.pool_size=3", *_I2I],
}


@pytest.fixture(scope="session")
def web_runs(tmp_path_factory):
    """A RUNS_DIR holding one tiny trained run of each kind the web app serves."""
    from gankit.train.loop import train

    root = tmp_path_factory.mktemp("webruns")
    for name, overrides in WEB_RUNS.items():
        train(config.build(None, overrides), out=root / name)
    return root


@pytest.fixture(scope="session")
def live_app(web_runs):
    """The web app over `web_runs` in a real uvicorn server on 127.0.0.1, as `gankit serve`
    runs it; yields its base URL."""
    from gankit.serve.launch import background

    app = background(str(web_runs))
    yield app.url
    app.stop()
