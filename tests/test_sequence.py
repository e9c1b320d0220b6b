"""MoCoGAN (model.family=sequence) on moving-mnist: the clips and their motion, the GRU
generator and the video D, the family's loss terms against a hand computation, a tiny run
that resumes bit for bit, sampling clips (GIFs, strips, longer clips) and bad input."""

import json

import pytest
import torch
import torch.nn.functional as F
from conftest import HEALTH_ON, TINY_DCGAN, assert_same, checks
from PIL import Image
from test_cli import assert_user_error, cli

import gankit
from gankit import checkpoint, config
from gankit import data as data_mod
from gankit.config import DataConfig
from gankit.data.moving import MovingDigits, bounce
from gankit.errors import GankitError
from gankit.families import Batch, DataInfo, PhaseCtx, make_family
from gankit.families.sequence import pick_frames
from gankit.nets import build_net
from gankit.nets.video import SequenceGenerator, VideoDiscriminator
from gankit.train.loop import train

T, RES = 4, 16  # tiny clips: 4 frames of 16x16
TINY_SEQ = ["data.name=moving-mnist", f"data.frames={T}", f"data.resolution={RES}",
            "model.family=sequence", "model.z_dim=8", "model.motion_dim=4", "model.g_width=8",
            "model.d_width=8", "train.batch_size=8", "train.steps=6", "train.log_every=2",
            "train.sample_every=3", "train.ckpt_every=3", "train.n_samples=8",
            "train.tensorboard=false", "train.progress=false", "device=cpu"]


def _clips(frames: int = 8, resolution: int = RES, name: str = "moving-mnist",
           channels: int | None = None) -> MovingDigits:
    return data_mod.load(DataConfig(name=name, frames=frames, resolution=resolution,
                                    channels=channels))


@pytest.fixture(scope="module")
def seq_run(tmp_path_factory):
    return train(config.build(None, TINY_SEQ), out=tmp_path_factory.mktemp("seq") / "run")


# ---------------------------------------------------------------- data


def test_moving_mnist_clips_have_their_shape_and_follow_the_seed():
    data = _clips()
    assert data.shape == (8, 1, RES, RES) and data.num_classes == 10
    x, y = data.sample(5, torch.Generator().manual_seed(0))
    assert x.shape == (5, 8, 1, RES, RES) and x.dtype == torch.uint8
    assert y.shape == (5,) and 0 <= int(y.min()) and int(y.max()) <= 9
    again, y2 = data.sample(5, torch.Generator().manual_seed(0))
    assert torch.equal(x, again) and torch.equal(y, y2)
    assert not torch.equal(x, data.sample(5, torch.Generator().manual_seed(1))[0])
    assert _clips(channels=3).sample(2, torch.Generator())[0].shape == (2, 8, 3, RES, RES)
    two, labels = _clips(name="moving-mnist2").sample(3, torch.Generator().manual_seed(0))
    assert two.shape == (3, 8, 1, RES, RES) and labels is None


def test_bounce_reflects_off_both_walls():
    pos = bounce(torch.tensor([[[1.0, 3.0]]]), torch.tensor([[[2.0, -1.5]]]), 6, 4.0)
    rows, cols = pos[0, :, 0, 0].tolist(), pos[0, :, 0, 1].tolist()
    assert rows == pytest.approx([1, 3, 3, 1, 1, 3])  # 1 -> 3 -> (5) 3 -> 1 -> (-1) 1 -> 3
    assert cols == pytest.approx([3, 1.5, 0, 1.5, 3, 3.5])


def _centre_of_mass(frames: torch.Tensor) -> torch.Tensor:
    """(T, H, W) -> (T, 2) mass-weighted (row, col)."""
    f = frames.double()
    idx = torch.arange(f.shape[-1], dtype=torch.float64)
    mass = f.sum((1, 2))
    return torch.stack([(f.sum(2) * idx).sum(1) / mass, (f.sum(1) * idx).sum(1) / mass], 1)


def test_digits_stay_inside_the_canvas_and_move_by_their_velocity():
    data = _clips(frames=12)
    paths = data.paths(16, torch.Generator().manual_seed(3))
    clips = data.render(paths)[:, :, 0]
    sprites = data.sprites[0][paths.index[:, 0]]
    # every pixel of the digit is drawn in every frame: nothing leaves the canvas
    mass = clips.double().sum((2, 3))
    assert torch.equal(mass, sprites.double().sum((1, 2))[:, None].expand_as(mass))
    assert paths.pos.min() >= 0 and paths.pos.max() <= data.free
    speed = paths.velocity.norm(dim=-1)
    assert speed.min() >= RES / 32 - 1e-6 and speed.max() <= RES * 5 / 64 + 1e-6
    for i in range(16):
        com = _centre_of_mass(clips[i])
        v = paths.velocity[i, 0].double()
        p0 = paths.pos[i, 0, 0].double()
        for t in range(12):  # until the first bounce the digit moves t * velocity
            free_flight = p0 + t * v
            if free_flight.min() < 0 or free_flight.max() > data.free:
                break
            moved = com[t] - com[0]
            assert (moved - t * v).abs().max() <= 1.0 + 1e-9, (i, t)  # rounding to pixels
        assert (com[-1] - com[0]).abs().max() > 0  # it moved


# ---------------------------------------------------------------- nets


def _generator(frames: int = 4) -> SequenceGenerator:
    torch.manual_seed(0)
    frame_g = {"name": "dcgan-g", "kwargs": {"z_dim": 8 + 4, "channels": 1, "resolution": 8,
                                             "width": 8}}
    return SequenceGenerator(content_dim=8, motion_dim=4, frames=frames, frame_g=frame_g)


def test_sequence_generator_makes_clips_and_runs_longer_than_trained():
    g = _generator().eval()
    assert g.latent_dim() == 8 + 4 * 5 and g.latent_dim(10) == 8 + 4 * 11
    z = torch.randn(3, g.latent_dim(10))
    long = g(z)
    assert long.shape == (3, 10, 1, 8, 8) and long.abs().max() <= 1
    short = g(z[:, :g.latent_dim()])  # the first 4 frames' noise: the GRU is causal
    assert short.shape == (3, 4, 1, 8, 8)
    torch.testing.assert_close(long[:, :4], short)
    with pytest.raises(GankitError, match=r"expected \(N, 8 \+ 4 \* \(T \+ 1\)\)"):
        g(torch.randn(3, 8 + 4 * 5 + 1))
    with pytest.raises(GankitError, match="unconditional"):
        g(z, torch.zeros(3, dtype=torch.long))


def _translator(sprites: int, side: int = 8, canvas: int | None = None,
                snap: bool = False) -> SequenceGenerator:
    torch.manual_seed(0)
    frame_g = {"name": "dcgan-g", "kwargs": {"z_dim": 8, "channels": sprites,
                                             "resolution": side, "width": 8}}
    return SequenceGenerator(content_dim=8, motion_dim=4, frames=4, frame_g=frame_g,
                             motion="translate", sprites=sprites, canvas=canvas,
                             snap=snap).eval()


def _placed(layer: torch.Tensor, canvas: int, top: int, left: int) -> torch.Tensor:
    """layer (N, S, S) pasted with its top-left corner at (top, left) on a black (-1) canvas,
    cut at the canvas edge."""
    s = layer.shape[-1]
    big = torch.full((layer.shape[0], canvas + 2 * s, canvas + 2 * s), -1.0)
    big[:, s + top:2 * s + top, s + left:2 * s + left] = layer
    return big[:, s:s + canvas, s:s + canvas]


def _set_positions(g: SequenceGenerator, centres: list[float]) -> None:
    """A motion head that ignores the motion: every frame puts the sprites' centres here."""
    with torch.no_grad():
        g.shift.weight.zero_()
        g.shift.bias.copy_(torch.atanh(torch.tensor(centres)))


def test_translate_motion_moves_one_drawing_and_composites_by_the_maximum():
    g = _translator(sprites=2)
    z = torch.randn(3, g.latent_dim())
    layers = g.frame(z[:, :8])  # drawn from the content alone: (3, 2 sprites, 8, 8)
    assert layers.shape == (3, 2, 8, 8)
    _set_positions(g, [0.25, 0.0, -0.5, 0.25])  # one pixel = 2 / 8 of the [-1, 1] canvas:
    with torch.no_grad():  # sprite 0 moves (x, y) = (1, 0) px, sprite 1 (-2, 1) px
        clips = g(z)
    expect = torch.maximum(_placed(layers[:, 0], 8, 0, 1), _placed(layers[:, 1], 8, 1, -2))
    for t in range(4):
        torch.testing.assert_close(clips[:, t, 0], expect, atol=1e-5, rtol=0)
    # with a real motion head the frames differ, but only by where the drawing is
    g = _translator(sprites=1)
    with torch.no_grad():
        g.shift.weight.mul_(20)
        clips = g(z)
    assert (clips[:, 0] - clips[:, 1]).abs().max() > 0.1
    with pytest.raises(GankitError, match="sprites=2, canvas=None and snap=False need motion='translate'"):
        SequenceGenerator(8, 4, 4, {"name": "dcgan-g", "kwargs": {}}, sprites=2)


def test_a_sprite_smaller_than_the_frame_is_pasted_onto_a_black_canvas():
    g = _translator(sprites=1, side=8, canvas=16)
    z = torch.randn(2, g.latent_dim())
    sprite = g.frame(z[:, :8])[:, 0]  # (2, 8, 8)
    _set_positions(g, [0.0, -0.5])  # centre (x, y) = (8, 4) px: top-left (0, 4); 1 px = 2 / 16
    with torch.no_grad():
        clips = g(z)
    assert clips.shape == (2, 4, 1, 16, 16)
    torch.testing.assert_close(clips[:, 2, 0], _placed(sprite, 16, 0, 4), atol=1e-5, rtol=0)
    _set_positions(g, [0.75, 0.25])  # centre (14, 10) px: a quarter of the sprite off the edge
    with torch.no_grad():
        clips = g(z)
    torch.testing.assert_close(clips[:, 0, 0], _placed(sprite, 16, 6, 10), atol=1e-5, rtol=0)


def test_snapped_sprites_move_by_whole_pixels_and_still_pass_a_gradient():
    g = _translator(sprites=1, side=8, canvas=16, snap=True)
    z = torch.randn(2, g.latent_dim())
    sprite = g.frame(z[:, :8])[:, 0].detach()
    _set_positions(g, [0.0 + 0.3 / 8, -0.5 - 0.4 / 8])  # (8.3, 3.6) px: rounds to (8, 4)
    clips = g(z)
    torch.testing.assert_close(clips[:, 1, 0].detach(), _placed(sprite, 16, 0, 4), atol=1e-5,
                               rtol=0)
    (clips * torch.randn_like(clips)).sum().backward()  # the rounding is straight-through:
    #                                                     the motion head still learns
    assert g.shift.bias.grad.abs().min() > 0
    blurred = _translator(sprites=1, side=8, canvas=16)
    _set_positions(blurred, [0.0 + 0.3 / 8, -0.5 - 0.4 / 8])
    with torch.no_grad():  # without snapping the same position resamples the drawing
        assert (blurred(z)[:, 1, 0] - _placed(sprite, 16, 0, 4)).abs().max() > 0.05


def test_video_discriminator_scores_whole_clips():
    for frames in (2, 5, 16):
        d = VideoDiscriminator(channels=3, resolution=16, frames=frames, width=4)
        assert d(torch.randn(2, frames, 3, 16, 16)).shape == (2,)
    d = VideoDiscriminator(channels=1, resolution=8, frames=4, width=4, norm="none", sn=True)
    assert d(torch.randn(3, 4, 1, 8, 8)).shape == (3,)
    with pytest.raises(GankitError, match=r"expected clips \(N, 4, C, H, W\)"):
        d(torch.randn(3, 5, 1, 8, 8))


# ---------------------------------------------------------------- family


def _family(extra=()):
    cfg = config.build(None, [*TINY_SEQ, *extra])
    fam = make_family(cfg, DataInfo((T, 1, RES, RES)))
    torch.manual_seed(0)
    nets = {k: build_net(s) for k, s in fam.specs().items()}
    batch = Batch(torch.rand(6, T, 1, RES, RES) * 2 - 1)
    return fam, nets, batch, fam.fake(nets, batch, torch.Generator().manual_seed(1))


def test_image_d_judges_d_frames_frames_of_each_clip():
    _, _, batch, fake = _family(["model.d_frames=3"])
    assert fake.frame_real.shape == (6, 3)
    frames = pick_frames(batch.x, fake.frame_real)
    assert frames.shape == (18, 1, RES, RES)
    assert torch.equal(frames[4], batch.x[1, fake.frame_real[1, 1]])  # clip 1, its 2nd pick


def test_family_terms_against_hand_computation():
    fam, nets, batch, fake = _family()
    assert set(nets) == {"g", "d", "dv"} and fam.g_side == ("g",) and fam.d_side == ("d", "dv")
    assert fake.x.shape == (6, T, 1, RES, RES) and fake.z.shape == (6, 8 + 4 * (T + 1))
    rows = torch.arange(6)
    assert fake.frame_real.shape == (6, 1)
    real_frames = batch.x[rows, fake.frame_real[:, 0]]
    fake_frames = fake.x[rows, fake.frame_fake[:, 0]]
    d, dv = nets["d"], nets["dv"]
    terms = fam.d_terms(nets, batch, fake.detach(), PhaseCtx(torch.Generator(), r1=False))
    assert {k for k in terms if "_acc_" not in k and "_logit_" not in k} == {"d_real", "d_fake", "dv_real", "dv_fake"}
    torch.testing.assert_close(terms["d_real"], F.softplus(-d(real_frames)).mean())
    torch.testing.assert_close(terms["d_fake"], F.softplus(d(fake_frames.detach())).mean())
    torch.testing.assert_close(terms["dv_real"], F.softplus(-dv(batch.x)).mean())
    torch.testing.assert_close(terms["dv_fake"], F.softplus(dv(fake.x.detach())).mean())
    g = fam.g_terms(nets, batch, fake)
    torch.testing.assert_close(g["g_adv"], F.softplus(-d(fake_frames)).mean())
    torch.testing.assert_close(g["gv_adv"], F.softplus(-dv(fake.x)).mean())


def test_r1_applies_to_both_discriminators():
    fam, nets, batch, fake = _family(["reg.r1_gamma=2", "model.d_norm=none"])
    terms = fam.d_terms(nets, batch, fake.detach(), PhaseCtx(torch.Generator(), r1=True))
    x = batch.x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(nets["dv"](x).sum(), x)
    torch.testing.assert_close(terms["dv_r1"], grad.square().flatten(1).sum(1).mean())
    assert terms["d_r1"] > 0


# ---------------------------------------------------------------- end to end


@pytest.mark.parametrize("extra", [[], ["loss=hinge", "model.d_norm=none", "reg.r1_gamma=1",
                                        "reg.r1_every=2", "model.g_upsample=resize"],
                                   ["model.motion=translate", "model.sprites=2",
                                    "model.sprite_res=8", "model.sprite_snap=true"]],
                         ids=["ns", "hinge-r1-resize", "translate"])
def test_trains_resumes_exactly_and_samples(tmp_path, extra):
    extra = [*extra, *HEALTH_ON]
    full = train(config.build(None, [*TINY_SEQ, *extra]), out=tmp_path / "full")
    assert "diversity" in checks(full)[-1]["values"]  # on the clips' middle frames
    half = train(config.build(None, [*TINY_SEQ, *extra, "train.steps=3"]), out=tmp_path / "half")
    train(None, resume=half, overrides=["train.steps=6"])
    a, b = checkpoint.load(full), checkpoint.load(half)
    assert_same(a["state"], b["state"])
    assert a["family"]["clip"] == {"content_dim": 8, "motion_dim": 4, "frames": T}
    log = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    assert {"d_real", "dv_real", "g_adv", "gv_adv"} <= set(log[-1])
    grid = Image.open(full / "samples" / "step-0000006.png")  # 8 frames: 2 clips x 4 frames
    assert grid.size == (T * (RES + 2) + 2, 2 * (RES + 2) + 2)
    pipe = gankit.load(str(full))
    x = pipe.sample(3, seed=1)
    assert x.shape == (3, T, 1, RES, RES) and x.abs().max() <= 1
    assert torch.equal(x, gankit.load(str(half)).sample(3, seed=1))
    longer = pipe.sample(3, seed=1, frames=T + 5)
    assert longer.shape == (3, T + 5, 1, RES, RES)
    torch.testing.assert_close(longer[:, :T], x)  # same content, state and first motions
    assert pipe.metric_samples(10, seed=0).shape == (10, 1, RES, RES)


def test_cli_writes_a_strip_and_one_gif_per_clip(seq_run, tmp_path, capsys):
    proc = cli(capsys, "sample", seq_run, "--n", "2", "--out", tmp_path / "c.png")
    assert proc.returncode == 0, proc.stderr
    strip = Image.open(tmp_path / "c.png")
    assert strip.size == (T * (RES + 2) + 2, 2 * (RES + 2) + 2)  # rows = clips, cols = frames
    for k in range(2):
        gif = Image.open(tmp_path / f"c-clip{k}.gif")
        assert gif.n_frames == T and gif.size == (RES, RES)
    proc = cli(capsys, "sample", seq_run, "--n", "1", "--frames", "9", "--out",
               tmp_path / "long.gif")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(tmp_path / "long-clip0.gif").n_frames == 9
    assert cli(capsys, "sample", seq_run, "--n", "2", "--out", tmp_path / "c.npz").returncode == 0
    import numpy as np

    assert np.load(tmp_path / "c.npz")["images"].shape == (2, T, 1, RES, RES)


def test_cli_interpolate_keeps_the_content_and_varies_the_motion(seq_run, tmp_path, capsys):
    from gankit.pipelines.interpolate import motion_sweep

    proc = cli(capsys, "interpolate", seq_run, "--seeds", "0,1,2", "--frames", "6", "--out",
               tmp_path / "m.png")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(tmp_path / "m.png").size == (6 * (RES + 2) + 2, 3 * (RES + 2) + 2)
    pipe = gankit.load(str(seq_run))
    seen = []
    real_generate = pipe.generate
    pipe.generate = lambda z, c=None, batch_size=256: seen.append(z) or real_generate(z, c)
    assert motion_sweep(pipe, [0, 1, 2]).shape == (3, T, 1, RES, RES)
    z = seen[0]
    assert torch.equal(z[:, :8], z[:1, :8].expand(3, -1))  # one content latent
    assert torch.equal(z[1, 8:], pipe.latents(1, seed=1)[0, 8:])  # each seed's motion


def test_sequence_run_evaluates_frames(tmp_path, capsys):
    run = train(config.build(None, [*TINY_SEQ, "train.steps=2", "train.eval_every=2",
                                    "eval.metrics=fid,kid", "eval.extractor=lenet-mnist",
                                    "eval.n=32", "eval.batch_size=16"]), out=tmp_path / "run")
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["eval/fid"] > 0 and "eval/kid" in last
    proc = cli(capsys, "eval", run, "--n", "32")
    assert proc.returncode == 0, proc.stderr
    assert "moving-mnist:frames" in proc.stdout


# ---------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    return train(config.build(None, [*TINY_DCGAN, "train.steps=1"]),
                 out=tmp_path_factory.mktemp("img") / "run")


@pytest.mark.parametrize("args,needle", [
    (["sample", "SEQ", "--frames", "1"], "argument --frames: '1' is not a clip length"),
    (["sample", "SEQ", "--frames", "x"], "'x' is not a clip length"),
    (["sample", "IMG", "--frames", "5"], "--frames needs a sequence model"),
    (["interpolate", "IMG", "--frames", "5"], "--frames needs a sequence model"),
    (["interpolate", "SEQ", "--mode", "lerp"], "a sequence model's interpolate draws one"),
    (["sample", "SEQ", "--out", "c.txt"], "for clips use"),
    (["sample", "SEQ", "--reject"], "--reject works on image and point models"),
    (["sample", "SEQ", "--code", "c0=1"], "--code needs a model with latent codes"),
    (["nearest", "SEQ"], "gankit nearest works on image and point models"),
], ids=lambda v: "_".join(v) if isinstance(v, list) else None)
def test_cli_mistakes_exit_2(seq_run, image_run, tmp_path, monkeypatch, capsys, args, needle):
    monkeypatch.chdir(tmp_path)
    runs = {"SEQ": str(seq_run), "IMG": str(image_run)}
    assert_user_error(cli(capsys, *[runs.get(a, a) for a in args]), needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra,key1,key2", [
    (["data.name=mnist5k", "data.resolution=16"], "model.family=sequence", "data.name=mnist5k"),
    (["model.family=unconditional"], "model.family=unconditional", "data.name=moving-mnist"),
    (["model.cat_codes=[4]"], "model.cat_codes", "model.family=sequence"),
    (["data.holdout=10"], "data.holdout", "endless stream of clips"),
    (["data.resolution=4"], "data.resolution=4", "moving-mnist"),
    (["model.sprites=2"], "model.sprites=2", "model.motion=translate"),
    (["model.sprite_res=8"], "model.sprite_res=8", "model.motion=translate"),
    (["model.sprite_snap=true"], "model.sprite_snap=true", "model.motion=translate"),
    (["model.motion=translate", "model.sprite_res=32"], "model.sprite_res=32",
     "data.resolution"),
    (["model.motion=translate", "model.sprite_res=9"], "model.sprite_res=9", "dcgan G"),
    (["data.name=mnist5k", "data.resolution=16", "model.family=unconditional",
      "model.motion=translate"], "model.motion", "model.family is unconditional"),
])
def test_nonsense_is_refused_before_the_run_folder(tmp_path, extra, key1, key2):
    with pytest.raises(GankitError) as err:
        train(config.build(None, [*TINY_SEQ, *extra]), out=tmp_path / "run")
    assert key1 in str(err.value) and key2 in str(err.value), str(err.value)
    assert not (tmp_path / "run").exists()


def test_one_frame_clips_are_refused_by_the_config():
    with pytest.raises(GankitError, match="data.frames: a clip needs >= 2 frames, got 1"):
        config.build(None, [*TINY_SEQ, "data.frames=1"])
    from gankit.pipelines.clips import clip_latents

    with pytest.raises(GankitError, match="a clip needs >= 2 frames"):
        clip_latents(None, {"frames": 4, "motion_dim": 4, "content_dim": 8}, 1, 0, frames=1)
