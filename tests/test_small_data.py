"""Small data and mode collapse: data.limit, crop/flip, DiffAugment/ADA wired into every D
call (resume exact, ADA's p checkpointed), PacGAN packing and minibatch stddev (shapes and a
hand-computed value), and the bad input each of them refuses."""

import json

import pytest
import torch
from conftest import TINY_DCGAN, TINY_MLP, train_full_and_resumed

import gankit
from gankit import checkpoint, config
from gankit import data as data_mod
from gankit.config import AugConfig, DataConfig
from gankit.errors import GankitError
from gankit.families import DataInfo, make_family
from gankit.families.base import pack_samples
from gankit.nets import build_net
from gankit.nets.layers import MinibatchStddev
from gankit.train import d_input
from gankit.train.loop import train

# ------------------------------------------------------------------ minibatch stddev


def test_minibatch_stddev_against_hand_computation():
    x = torch.tensor([[0.0, 2.0], [1.0, 1.0], [2.0, 4.0], [3.0, 1.0]])
    out = MinibatchStddev(group=2)(x)
    # groups: samples (0, 2) and (1, 3) (i with i + N/G); population std per feature
    s02 = (torch.tensor([1.0, 1.0]) + 1e-8).sqrt().mean()  # |0-2|/2 = 1, |2-4|/2 = 1
    s13 = (torch.tensor([1.0, 0.0]) + 1e-8).sqrt().mean()  # |1-3|/2 = 1, |1-1|/2 = 0
    assert torch.equal(out[:, :2], x)
    assert torch.allclose(out[:, 2], torch.stack([s02, s13, s02, s13]), atol=1e-6)
    maps = MinibatchStddev(group=4)(torch.randn(8, 3, 5, 5))
    assert maps.shape == (8, 4, 5, 5) and torch.all(maps[:, 3] == maps[:, 3, :1, :1])


@pytest.mark.parametrize("arch", ["dcgan", "resnet", "mlp"])
def test_minibatch_stddev_lets_d_see_a_collapsed_batch(arch):
    """With the layer, D's score of a sample depends on the rest of its group."""
    cfg = config.build(None, [*TINY_DCGAN, f"model.arch={arch}", "model.mbstd=4",
                              "model.d_norm=none"])
    d = build_net(make_family(cfg, DataInfo((1, 8, 8))).specs()["d"]).eval()
    x = torch.randn(4, 1, 8, 8)
    same = x[:1].repeat(4, 1, 1, 1)
    assert not torch.allclose(d(x)[0], d(same)[0])


# ------------------------------------------------------------------ PacGAN


def test_pack_joins_consecutive_samples_on_the_channel_axis():
    x = torch.arange(4 * 2 * 3 * 3, dtype=torch.float32).view(4, 2, 3, 3)
    p = pack_samples(x, 2)
    assert p.shape == (2, 4, 3, 3)
    assert torch.equal(p[1, :2], x[2]) and torch.equal(p[1, 2:], x[3])
    assert pack_samples(torch.ones(6, 2), 3).shape == (2, 6)


def test_packed_d_has_m_times_the_input_channels_and_one_score_per_pack():
    cfg = config.build(None, [*TINY_DCGAN, "model.pack=2"])
    specs = make_family(cfg, DataInfo((1, 8, 8))).specs()
    assert specs["d"]["kwargs"]["channels"] == 2 and specs["g"]["kwargs"]["channels"] == 1
    d = build_net(specs["d"])
    view = d_input.d_view({"d": d}, ("d",), None, 2)["d"]
    assert view(torch.randn(6, 1, 8, 8)).shape == (3,)


@pytest.mark.parametrize("extra", [
    [*TINY_DCGAN, "model.pack=2", "reg.r1_gamma=1"],
    [*TINY_DCGAN, "model.mbstd=4", "model.d_norm=none"],
    [*TINY_MLP, "model.pack=4", "model.mbstd=2"],
    [*TINY_DCGAN, "model.arch=resnet", "model.mbstd=2", "model.d_sn=true", "loss=hinge"],
    [*TINY_DCGAN, "model.family=conditional", "model.mbstd=4"],
])
def test_pack_and_mbstd_train_resume_exactly_and_sample(tmp_path, extra):
    extra = [*extra, "train.steps=4", "train.ckpt_every=2", "train.sample_every=2"]
    full, _ = train_full_and_resumed(tmp_path, extra)
    assert gankit.load(str(full)).sample(3).shape[0] == 3


@pytest.mark.parametrize("switch", ["model.pack=2", "model.mbstd=4"])
def test_d_scoring_refuses_a_d_that_scores_batches(tmp_path, switch):
    from gankit.pipelines.critic import load_critic

    run = train(config.build(None, [*TINY_DCGAN, switch, "train.steps=2"]),
                out=tmp_path / "run")
    with pytest.raises(GankitError, match=switch):
        load_critic(run / "checkpoints" / "last.pt")


def test_r1_of_a_packed_d_is_per_pack():
    """D(pack) = <w, pack>: each sample's gradient is its slice of w, a pack's |grad|^2 is
    |w|^2 (both slices); R1 = gamma/2 * |w|^2 whether or not the samples are packed."""
    from gankit.losses.regularizers import r1_penalty

    w = torch.tensor([1.0, 2.0, 3.0, 4.0])  # two samples of 2 features per pack
    x = torch.randn(6, 2, requires_grad=True)
    logits = pack_samples(x, 2) @ w
    assert r1_penalty(logits, x, gamma=2.0).item() == pytest.approx(30.0)  # |w|^2 = 30
    y = torch.randn(6, 4, requires_grad=True)
    assert r1_penalty(y @ w, y, gamma=2.0).item() == pytest.approx(30.0)


# ------------------------------------------------------------------ data.limit, crop, flip


def test_limit_is_a_fixed_subset_the_same_for_every_seed():
    a = data_mod.load(DataConfig(name="digits", limit=100))
    b = data_mod.load(DataConfig(name="digits", limit=100))
    full = data_mod.load(DataConfig(name="digits"))
    assert len(a) == 100 and torch.equal(a.x, b.x)
    assert len(set(a.y.tolist())) == 10  # random, not the first 100 of a sorted set
    rows = {bytes(r) for r in full.x.flatten(1).numpy()}
    assert all(bytes(r) in rows for r in a.x.flatten(1).numpy())
    with pytest.raises(GankitError, match="data.limit=5000: digits has 1797"):
        data_mod.load(DataConfig(name="digits", limit=5000))


def test_limit_applies_after_the_holdout():
    held = data_mod.load_holdout(DataConfig(name="digits", holdout=200, limit=100))
    train_set = data_mod.load(DataConfig(name="digits", holdout=200, limit=100))
    held_rows = {bytes(r) for r in held.x.flatten(1).numpy()}
    assert len(train_set) == 100 and len(held) == 200
    assert sum(bytes(r) in held_rows for r in train_set.x.flatten(1).numpy()) == 0


def test_flip_is_refused_on_digits_unless_forced():
    with pytest.raises(GankitError, match="data.flip=true on digits.*data.allow_flip"):
        data_mod.load(DataConfig(name="digits", flip=True))
    assert len(data_mod.load(DataConfig(name="digits", flip=True, allow_flip=True))) == 1797


def test_crop_and_flip_reach_the_real_batches(tmp_path):
    from gankit.train.distributed import DistInfo
    from gankit.train.state import state_for
    from gankit.train.step import StepContext, _real_batch

    def first_batch(extra):
        cfg = config.build(None, [*TINY_DCGAN, *extra])
        data = data_mod.load(cfg.data)
        st, fam = state_for(cfg, data, DistInfo())
        return _real_batch(st, StepContext.from_config(cfg, fam, torch.device("cpu"))).x

    plain = first_batch([])
    flipped = first_batch(["data.flip=true", "data.allow_flip=true"])
    cropped = first_batch(["data.crop_pad=2"])
    same = [torch.equal(a, b) for a, b in zip(plain, flipped)]
    mirrored = [torch.equal(a.flip(-1), b) for a, b in zip(plain, flipped)]
    assert all(s or m for s, m in zip(same, mirrored)) and 0 < sum(mirrored) < len(plain)
    assert cropped.shape == plain.shape and not torch.equal(cropped, plain)


# ------------------------------------------------------------------ DiffAugment and ADA


@pytest.mark.parametrize("aug", [
    ["aug.kind=diffaug"],
    ["aug.kind=diffaug", "aug.policy=translation"],
    ["aug.kind=ada", "aug.p=0.3", "aug.interval=3", "aug.kimg=0.1"],  # mid-interval at 2
])
@pytest.mark.parametrize("family", [[], ["model.family=conditional", "model.d_cond=acgan"],
                                    ["model.family=infogan", "model.cat_codes=[4]"],
                                    ["model.family=bigan"]])
def test_augmentation_trains_and_resumes_exactly_in_every_family(tmp_path, aug, family):
    extra = [*TINY_DCGAN, *family, *aug, "train.steps=4", "train.ckpt_every=2",
             "train.sample_every=2", "reg.r1_gamma=1", "model.d_norm=none"]
    full, _ = train_full_and_resumed(tmp_path, extra)
    a = checkpoint.load(full)["state"]
    if "aug.kind=ada" in aug:
        p = float(a["rng_ranks"][0]["extra"]["ada_p"])
        assert p != 0.3 and 0 <= p <= 1  # moved from its start, restored on resume
        logs = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
        assert any("aug_p" in r for r in logs)


def test_augmentation_changes_what_d_sees_only():
    """DiffAugment on: D's inputs differ from the batch; G and the saved nets are untouched."""
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x):
            seen.append(x.detach().clone())
            return x.flatten(1).mean(1)

    gen = torch.Generator().manual_seed(0)
    aug = d_input.make_augment(AugConfig(kind="diffaug", policy="cutout"), gen, 0.0)
    view = d_input.d_view({"d": Probe(), "g": torch.nn.Identity()}, ("d",), aug, 1)
    x = torch.ones(4, 1, 8, 8)
    view["d"](x)
    assert not torch.equal(seen[0], x) and isinstance(view["g"], torch.nn.Identity)
    assert d_input.d_view({"d": Probe()}, ("d",), None, 1)["d"].__class__ is Probe


def test_ada_p_follows_the_sign_of_d_on_reals():
    cfg = AugConfig(kind="ada", p=0.5, target=0.6, interval=2, kimg=1.0)
    extra: dict = {}
    dev = torch.device("cpu")
    d_input.ada_observe(extra, cfg, torch.tensor(1.0), 0, 100, dev)
    assert float(extra["ada_p"]) == 0.5  # no update before `interval` D updates
    d_input.ada_observe(extra, cfg, torch.tensor(0.6), 1, 100, dev)
    # r_t = (1.0 + 0.6) / 2 = 0.8 > 0.6: p += 200 / 1000
    assert float(extra["ada_p"]) == pytest.approx(0.7) and float(extra["ada_rt"]) == pytest.approx(0.8)
    for i in (2, 3):
        d_input.ada_observe(extra, cfg, torch.tensor(-1.0), i, 100, dev)
    assert float(extra["ada_p"]) == pytest.approx(0.5)  # r_t = -1 < 0.6: p -= 0.2
    # under DDP the sign statistic is summed over ranks before the update
    other_rank = torch.tensor([-3.0, 3.0], dtype=torch.float64)  # 3 updates of sign -1
    try:
        d_input.all_reduce_sum = lambda t, device: t + other_rank
        extra = {"ada_p": torch.tensor(0.5, dtype=torch.float64)}
        d_input.ada_observe(extra, AugConfig(kind="ada", target=0.6, interval=1, kimg=1.0),
                            torch.tensor(1.0), 0, 100, dev)
    finally:
        from gankit.train import distributed
        d_input.all_reduce_sum = distributed.all_reduce_sum
    assert float(extra["ada_rt"]) == pytest.approx(-0.5)  # (1 - 3) / 4, not this rank's 1
    assert float(extra["ada_p"]) == pytest.approx(0.4)
    fixed = AugConfig(kind="ada", p=0.25, target=0.0, interval=1)
    extra = {}
    d_input.ada_observe(extra, fixed, torch.tensor(1.0), 0, 100, dev)
    assert float(extra["ada_p"]) == 0.25  # target 0 keeps p fixed


BAD = [
    (["aug.kind=diffaug", "aug.policy=colour"], "aug.policy", "translation"),
    (["aug.kind=ada", "aug.pipe=bx"], "aug.pipe", "x"),
    (["model.pack=3"], "model.pack=3", "train.batch_size=16"),
    (["model.pack=2", "model.family=conditional"], "model.pack", "model.family"),
    (["model.pack=2", "loss=wgan", "reg.gp_lambda=10", "model.d_norm=none"], "model.pack",
     "reg.gp_lambda"),
    (["model.mbstd=1"], "model.mbstd", ">= 2"),
    (["aug.kind=ada", "aug.p=1.5"], "aug.p", "[0, 1]"),
    (["aug.kind=ada", "loss=lsgan"], "aug.kind=ada", "loss=lsgan"),
    (["train.batch_size=24", "model.pack=2", "model.mbstd=8"], "model.mbstd=8", "model.pack=2"),
    (["model.d_frames=4"], "model.d_frames", "model.family=sequence"),
    ([*TINY_MLP, "aug.kind=diffaug"], "aug.kind", "data.name=ring8"),
    (["data.flip=true"], "data.flip", "data.allow_flip"),
    (["data.limit=100000"], "data.limit", "digits"),
    (["data.name=moving-mnist", "model.family=sequence", "data.limit=10"], "data.limit",
     "on the fly"),
    (["data.name=moving-mnist", "model.family=sequence", "data.crop_pad=2"], "data.crop_pad",
     "moving-mnist"),
]


@pytest.mark.parametrize("extra,key1,key2", BAD)
def test_bad_augmentation_and_packing_settings_are_refused(tmp_path, extra, key1, key2):
    with pytest.raises(GankitError) as err:
        train(config.build(None, [*TINY_DCGAN, *extra]), out=tmp_path / "run")
    assert key1 in str(err.value) and key2 in str(err.value), str(err.value)
    assert not (tmp_path / "run").exists()


WHITE = ["model.arch=mlp", "model.z_dim=4", "model.g_width=32", "model.d_width=32",
         "model.depth=2", "model.d_norm=none", "train.batch_size=32", "train.steps=400",
         "train.log_every=100", "train.sample_every=0", "train.ckpt_every=1000",
         "train.tensorboard=false", "train.progress=false", "device=cpu", "train.ema_beta=0"]


@pytest.mark.parametrize("aug,leaks", [
    (["aug.kind=diffaug", "aug.policy=translation,cutout"], False),
    (["aug.kind=ada", "aug.p=0.6", "aug.target=0", "aug.pipe=bg"], False),
    (["data.crop_pad=2"], True),  # the control: augmenting the reals alone leaks its borders
])
def test_augmenting_real_and_fake_leaves_no_artefacts_in_samples(tmp_path, aug, leaks):
    """All-white 8x8 images: D sees cutout holes and translation borders (value 0 or less)
    on both sides, so G must still draw white images. Augmenting only the reals (data-level
    crop) teaches G the borders: the control shows the check would see them."""
    import numpy as np

    np.savez(tmp_path / "white.npz", x=np.full((64, 8, 8), 255, np.uint8))
    cfg = config.build(None, [f"data.name=npz:{tmp_path / 'white.npz'}", *WHITE, *aug])
    x = gankit.load(str(train(cfg, out=tmp_path / "run"))).sample(256, seed=0)
    dark = float((x < 0).float().mean())
    assert (dark > 0.1) if leaks else (dark == 0.0 and x.mean() > 0.7), dark
