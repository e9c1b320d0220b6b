"""The family tools, from Python and the command line: samples of chosen classes (and the
class-by-row grid), fixed latent codes, truncation, code sweeps, encode and reconstruct, and
a one-line error (exit 2) for every bad input. Tiny 4-step runs on digits (8x8, 10 classes).
"""

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from test_cli import assert_user_error, cli, gankit, snapshot

import gankit as gk
from gankit import checkpoint, config
from gankit.data.base import to_uint8, to_unit_range
from gankit.images import make_grid
from gankit.nets import build_net
from gankit.pipelines.encode import load_images, reconstruct
from gankit.pipelines.generate import GeneratorPipeline
from gankit.pipelines.interpolate import code_sweep
from gankit.train.loop import train

BASE = ["data.name=digits", "model.arch=dcgan", "model.z_dim=8", "model.g_width=8",
        "model.d_width=8", "train.batch_size=16", "train.steps=4", "train.sample_every=0",
        "train.ema_beta=0.5", "train.tensorboard=false", "train.progress=false", "device=cpu"]
FAMILIES = {
    "COND": ["model.family=conditional"],
    "ACGAN": ["model.family=conditional", "model.d_cond=acgan", "model.arch=mlp"],
    "INFO": ["model.family=infogan", "model.cat_codes=[10]", "model.cont_codes=2"],
    "BIGAN": ["model.family=bigan"],
}
NOISE, CAT = 8, 10  # INFO's latent: [noise 0..7 | one-hot c0 8..17 | c1 18 | c2 19]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {name: train(config.build(None, BASE + extra), out=root / name.lower())
            for name, extra in FAMILIES.items()}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Seven 8x8 PNGs (one colour, converted to grey), an npz of three, and wrong sizes."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    (root / "imgs").mkdir()
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(root / "imgs" / f"{i}.png")
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / "imgs" / "rgb.png")
    np.savez(root / "x.npz", x=rng.integers(0, 256, (3, 1, 8, 8), dtype=np.uint8))
    (root / "big").mkdir()
    Image.fromarray(np.zeros((16, 12), np.uint8)).save(root / "big" / "a.png")
    np.savez(root / "big.npz", x=np.zeros((3, 1, 16, 16), np.uint8))
    np.savez(root / "points.npz", x=np.zeros((3, 2), np.float32))
    return root


@pytest.fixture
def fed_to_g(monkeypatch):
    """Every (z, c) that any pipeline hands to G, in order."""
    calls = []
    original = GeneratorPipeline.generate

    def recording(self, z, c=None, batch_size=256):
        calls.append((z.clone(), None if c is None else c.clone()))
        return original(self, z, c, batch_size)

    monkeypatch.setattr(GeneratorPipeline, "generate", recording)
    return calls


def png(path) -> np.ndarray:
    return np.asarray(Image.open(path))


# ---------------------------------------------------------------- pipelines stay inference-only


def test_pipelines_do_not_import_training():
    code = ("import sys, gankit.pipelines.generate, gankit.pipelines.interpolate, "
            "gankit.pipelines.encode; print(sorted(m for m in sys.modules "
            "if m.startswith('gankit.train')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# ---------------------------------------------------------------- classes


@pytest.mark.parametrize("name", ["COND", "ACGAN"])
def test_class_samples_are_g_given_that_class(runs, name):
    pipe = gk.load(runs[name])
    z = pipe.latents(6, seed=2)
    three = pipe.sample(6, seed=2, classes=3)
    assert torch.equal(three, pipe.generate(z, torch.full((6,), 3)))
    assert torch.equal(pipe.sample(6, seed=2, classes=[3] * 6), three)
    assert torch.equal(pipe.sample(6, seed=2, classes=[1, 2]),
                       pipe.generate(z, torch.tensor([1, 2, 1, 2, 1, 2])))
    assert not torch.equal(pipe.sample(6, seed=2, classes=4), three)  # the class reaches G


def test_class_by_row_grid(runs, tmp_path, capsys):
    pipe = gk.load(runs["COND"])
    grid = pipe.class_grid(20, seed=0)
    assert grid.classes == list(range(10)) and grid.columns == 2
    z = pipe.latents(2, seed=0)  # column j: latent j in every row
    assert torch.equal(grid.samples, pipe.generate(z.repeat(10, 1),
                                                   torch.arange(10).repeat_interleave(2)))
    proc = cli(capsys, "sample", runs["COND"], "--n", 20, "--out", tmp_path / "g.png")
    assert proc.returncode == 0 and "10 rows x 2 columns" in proc.stdout, proc.stderr
    assert png(tmp_path / "g.png").shape == (2 + 10 * 10, 2 + 2 * 10)
    assert np.array_equal(png(tmp_path / "g.png"), make_grid(to_uint8(grid.samples), 2)[:, :, 0])
    for args, size in ((["--class", "1,2,3", "--n", 9], (32, 32)),  # a row per listed class
                       (["--class", "3", "--n", 4], (22, 22))):  # one class fills the grid
        proc = cli(capsys, "sample", runs["COND"], *args, "--out", tmp_path / "c.png")
        assert proc.returncode == 0 and Image.open(tmp_path / "c.png").size == size, proc.stderr
    proc = cli(capsys, "sample", runs["COND"], "--class", "2,5", "--n", 5, "--out",
               tmp_path / "s.npz")
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "s.npz") as f:
        assert np.array_equal(f["x"], pipe.sample(5, classes=[2, 5]).numpy())


# ---------------------------------------------------------------- codes and truncation


def test_code_sets_the_latent_given_to_g(runs, tmp_path, capsys, fed_to_g):
    proc = cli(capsys, "sample", runs["INFO"], "--n", 4, "--seed", 1, "--code", "c0=3",
               "--code", "c2=0.5", "--out", tmp_path / "s.npz")
    assert proc.returncode == 0, proc.stderr
    (z, c), = fed_to_g
    free = gk.load(runs["INFO"]).latents(4, seed=1)
    assert c is None and z.shape == (4, NOISE + CAT + 2)
    assert torch.equal(z[:, NOISE:NOISE + CAT], F.one_hot(torch.full((4,), 3), CAT).float())
    assert torch.equal(z[:, -1], torch.full((4,), 0.5))
    assert torch.equal(z[:, :NOISE], free[:, :NOISE]) and torch.equal(z[:, -2], free[:, -2])
    with np.load(tmp_path / "s.npz") as f:
        ref = gk.load(runs["INFO"]).sample(4, seed=1, codes={"c0": 3, "c2": 0.5})
        assert np.array_equal(f["x"], ref.numpy())


def test_truncation_acts_on_the_noise_only(runs, tmp_path, capsys):
    pipe = gk.load(runs["INFO"])
    z, zt = pipe.latents(6, seed=1), pipe.latents(6, seed=1, truncation=0.7)
    assert torch.allclose(zt[:, :NOISE], 0.7 * z[:, :NOISE], rtol=0, atol=1e-7)
    assert torch.equal(zt[:, NOISE:], z[:, NOISE:])
    zr = pipe.latents(200, seed=1, truncation=0.5, truncation_mode="resample")
    assert zr[:, :NOISE].abs().max() <= 0.5 and torch.equal(zr[:, NOISE:NOISE + CAT].sum(1),
                                                           torch.ones(200))
    cond = gk.load(runs["COND"])
    for extra, kw in ((["--truncation", "0.7"], {"truncation": 0.7}),
                      (["--truncation", "0.5", "--truncation-mode", "resample"],
                       {"truncation": 0.5, "truncation_mode": "resample"})):
        proc = cli(capsys, "sample", runs["COND"], "--n", 4, "--class", 3, *extra,
                   "--out", tmp_path / "t.npz")
        assert proc.returncode == 0, proc.stderr
        with np.load(tmp_path / "t.npz") as f:
            assert np.array_equal(f["x"], cond.sample(4, classes=3, **kw).numpy())


def test_code_sweep(runs, tmp_path, capsys, fed_to_g):
    pipe = gk.load(runs["INFO"])
    out = code_sweep(pipe, "c2", [0, 1, 5], steps=5)
    assert out.shape == (3, 5, 1, 8, 8)
    z = fed_to_g[-1][0].view(3, 5, -1)
    assert torch.allclose(z[:, :, -1], torch.linspace(-1, 1, 5).expand(3, 5), atol=1e-7)
    assert torch.equal(z[:, :, :-1], z[:, :1, :-1].expand(3, 5, -1))  # the rest fixed per row
    seeded = torch.cat([pipe.latents(1, seed=s) for s in (0, 1, 5)])
    assert torch.equal(z[:, 0, :NOISE], seeded[:, :NOISE])  # row r: the noise of seed r
    out = code_sweep(pipe, "c0", [0, 1], steps=3)  # categorical: all 10 values, steps unused
    assert out.shape == (2, CAT, 1, 8, 8)
    z = fed_to_g[-1][0].view(2, CAT, -1)
    assert torch.equal(z[:, :, NOISE:NOISE + CAT], torch.eye(CAT).expand(2, CAT, CAT))
    proc = cli(capsys, "interpolate", runs["INFO"], "--code", "c0", "--seeds", "0,1",
               "--out", tmp_path / "i.png")
    assert proc.returncode == 0 and "2 seed(s) x 10 values of c0" in proc.stdout, proc.stderr
    assert Image.open(tmp_path / "i.png").size == (2 + 10 * 10, 2 + 2 * 10)


def test_interpolation_keeps_a_class_per_path(runs, tmp_path, capsys, fed_to_g):
    proc = cli(capsys, "interpolate", runs["COND"], "--seeds", "0,1,2", "--steps", 3,
               "--out", tmp_path / "i.png")
    assert proc.returncode == 0 and Image.open(tmp_path / "i.png").size == (32, 22), proc.stderr
    pipe = gk.load(runs["COND"])
    labels = torch.cat([pipe.labels(1, seed=s) for s in (0, 1)]).repeat_interleave(3)
    assert torch.equal(fed_to_g[-1][1], labels)


# ---------------------------------------------------------------- encode and reconstruct


def test_encode_uses_the_ema_encoder(runs, images, tmp_path, capsys):
    proc = cli(capsys, "encode", runs["BIGAN"], images / "imgs", "--out", tmp_path / "z.npz")
    assert proc.returncode == 0 and "z (7, 8)" in proc.stdout, proc.stderr
    names, x = load_images(images / "imgs", (1, 8, 8))
    assert x.shape == (7, 1, 8, 8) and names == [f"{i}.png" for i in range(6)] + ["rgb.png"]
    ckpt = checkpoint.load(runs["BIGAN"])
    e = build_net(ckpt["specs"]["e"])
    e.load_state_dict(ckpt["state"]["ema"]["e"])
    with torch.no_grad():
        by_hand = e.eval()(x)
    with np.load(tmp_path / "z.npz") as f:
        assert f["z"].shape == (7, 8) and f["z"].dtype == np.float32
        assert list(f["files"]) == names
        assert np.allclose(f["z"], by_hand.numpy(), rtol=0, atol=1e-6)
    ema, raw = ckpt["state"]["ema"]["e"], ckpt["state"]["nets"]["e"]
    assert any(not torch.equal(ema[k], raw[k]) for k in ema)  # the EMA is another encoder...
    assert not torch.equal(gk.load(runs["BIGAN"], ema=False).encode(x), by_hand)  # ...and used
    proc = cli(capsys, "encode", runs["BIGAN"], images / "x.npz", "--out", tmp_path / "n.npz")
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "n.npz") as f, np.load(images / "x.npz") as src:
        expected = gk.load(runs["BIGAN"]).encode(to_unit_range(torch.from_numpy(src["x"])))
        assert np.array_equal(f["z"], expected.numpy())
        assert list(f["files"]) == ["x.npz[0]", "x.npz[1]", "x.npz[2]"]


def test_reconstruct_grid(runs, images, tmp_path, capsys):
    pipe = gk.load(runs["BIGAN"])
    _, x = load_images(images / "imgs", pipe.data_shape)
    rec = reconstruct(pipe, x[:5])
    assert torch.equal(rec.x_hat, pipe.generate(pipe.encode(x[:5])))
    assert torch.equal(rec.pairs()[0::2], x[:5]) and torch.equal(rec.pairs()[1::2], rec.x_hat)
    proc = cli(capsys, "reconstruct", runs["BIGAN"], images / "imgs", "--n", 5,
               "--out", tmp_path / "r.png")
    assert proc.returncode == 0 and "5 of 7 image(s)" in proc.stdout, proc.stderr
    assert png(tmp_path / "r.png").shape == (2 + 2 * 10, 2 + 6 * 10)  # 3 pairs a row, 2 rows
    assert np.array_equal(png(tmp_path / "r.png"), make_grid(to_uint8(rec.pairs()), 6)[:, :, 0])


# ---------------------------------------------------------------- bad input: one line, exit 2


@pytest.mark.parametrize("args,needle", [
    (["sample", "COND", "--class", "11"], "--class 11: this model has 10 classes, 0..9"),
    (["sample", "COND", "--class", "1,11", "--out", "s.npz"], "--class 11: this model has 10"),
    (["sample", "COND", "--class", "-1"], "--class -1: this model has 10 classes"),
    (["sample", "COND", "--class", "a"], "argument --class: 'a' is not a class number"),
    (["sample", "INFO", "--class", "3"], "--class needs a class-conditional model"),
    (["sample", "BIGAN", "--class", "3", "--out", "s.npz"], "model.family=bigan (no classes)"),
    (["sample", "COND", "--reject", "--class", "3"], "does not combine with --class"),
    (["sample", "COND", "--code", "c0=1"], "--code needs a model with latent codes"),
    (["sample", "INFO", "--code", "c3=1"], "--code c3: unknown code; this model has c0..c2"),
    (["sample", "INFO", "--code", "z=1"], "--code z: unknown code"),
    (["sample", "INFO", "--code", "c0=2.5"], "a categorical code takes a whole number 0..9"),
    (["sample", "INFO", "--code", "c0=10"], "--code c0=10: a categorical code takes"),
    (["sample", "INFO", "--code", "c1=abc"], "the value of c1 is not a finite number"),
    (["sample", "INFO", "--code", "c1=nan"], "the value of c1 is not a finite number"),
    (["sample", "INFO", "--code", "c1"], "'c1' is not NAME=VALUE"),
    (["sample", "INFO", "--code", "c1=1", "--code", "c1=0"], "--code c1 is given twice"),
    (["sample", "COND", "--truncation", "1.5"], "truncation psi must be in (0, 1]; got 1.5"),
    (["sample", "COND", "--truncation", "0"], "truncation psi must be in (0, 1]"),
    (["sample", "COND", "--truncation", "x"], "argument --truncation: invalid float value"),
    (["sample", "COND", "--truncation", "0", "--truncation-mode", "resample"],
     "truncation threshold must be > 0"),
    (["sample", "COND", "--truncation-mode", "resample"], "needs --truncation"),
    (["sample", "COND", "--truncation-mode", "clip"], "invalid choice: 'clip'"),
    (["interpolate", "COND", "--code", "c0"], "--code needs a model with latent codes"),
    (["interpolate", "INFO", "--code", "c5"], "--code c5: unknown code"),
    (["interpolate", "INFO", "--code", "c1", "--steps", "1"], "needs at least 2 steps; got 1"),
    (["interpolate", "INFO", "--code", "c1", "--mode", "lerp"], "a --code sweep has none"),
    (["encode", "INFO", "imgs", "--out", "z.npz"], "encode needs a model with an encoder"),
    (["encode", "BIGAN", "big", "--out", "z.npz"], "is 12x16; this model takes 8x8 images"),
    (["encode", "BIGAN", "big.npz", "--out", "z.npz"], "images of size 16x16; this model takes"),
    (["encode", "BIGAN", "points.npz", "--out", "z.npz"], "holds samples of shape (2,)"),
    (["encode", "BIGAN", "/no/such/images", "--out", "z.npz"], "does not exist"),
    (["encode", "BIGAN", "imgs", "--out", "z.txt"], "encode writes an .npz file"),
    (["encode", "BIGAN", "imgs", "--out", "missing/z.npz"], "folder missing does not exist"),
    (["encode", "BIGAN", "imgs", "--out", "BIGAN/checkpoints/z.npz"], "belongs to the run"),
    (["encode", "BIGAN", "x.npz", "--out", "x.npz"], "would write over or among the input"),
    (["reconstruct", "INFO", "imgs"], "reconstruct needs a model with an encoder"),
    (["reconstruct", "BIGAN", "big"], "this model takes 8x8 images"),
    (["reconstruct", "BIGAN", "imgs", "--out", "r.txt"], "an image file needs one of the"),
    (["reconstruct", "BIGAN", "imgs", "--out", "imgs/r.png"], "would write over or among"),
    (["reconstruct", "BIGAN", "imgs", "--n", "0"], "argument --n: '0' is not a positive"),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_mistakes_exit_2_and_write_nothing(runs, images, tmp_path, monkeypatch, capsys, args,
                                           needle):
    for name in ("imgs", "big", "x.npz", "big.npz", "points.npz"):
        (tmp_path / name).symlink_to(images / name)
    monkeypatch.chdir(tmp_path)
    args = [_expand(a, runs) for a in args]
    before = snapshot(tmp_path), snapshot(images), [snapshot(r) for r in runs.values()]
    assert_user_error(cli(capsys, *args), needle)
    assert (snapshot(tmp_path), snapshot(images), [snapshot(r) for r in runs.values()]) == before


def _expand(arg: str, runs: dict) -> str:
    """COND, BIGAN/checkpoints/z.npz, ... -> the run folder's path."""
    head, _, tail = arg.partition("/")
    return str(runs[head]) + ("/" + tail if tail else "") if head in runs else arg


def test_a_family_mistake_in_a_subprocess_is_one_line(runs):
    assert_user_error(gankit("sample", str(runs["COND"]), "--class", "11"),
                      "--class 11: this model has 10 classes, 0..9")
