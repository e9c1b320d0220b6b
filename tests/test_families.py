"""GAN families: each trains, resumes bit for bit, samples from a reloaded checkpoint; each
family's extra terms against a hand computation; switches compose; nonsense is refused
before a run folder is made, naming both keys."""

import dataclasses
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import HEALTH_ON, TINY_DCGAN, TINY_MLP, assert_same, checks, train_full_and_resumed

import gankit
from gankit import checkpoint, config
from gankit.errors import GankitError
from gankit.families import Batch, DataInfo, PhaseCtx, make_family
from gankit.nets import build_net
from gankit.train.loop import train

FAMILIES = {
    "conditional": ["model.family=conditional"],
    "acgan": ["model.family=conditional", "model.d_cond=acgan"],
    "infogan": ["model.family=infogan", "model.cat_codes=[10]", "model.cont_codes=2"],
    "bigan": ["model.family=bigan"],
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_trains_resumes_exactly_and_samples(tmp_path, family):
    extra = [*TINY_DCGAN, *HEALTH_ON, *FAMILIES[family]]
    full = train(config.build(None, extra), out=tmp_path / "full")
    assert [c["step"] for c in checks(full)] == [2, 4, 6]
    assert {"diversity", "d_acc_real", "g_grad_norm"} <= set(checks(full)[-1]["values"])
    half = train(config.build(None, [*extra, "train.steps=3"]), out=tmp_path / "half")
    train(None, resume=half, overrides=["train.steps=6"])
    a, b = checkpoint.load(full), checkpoint.load(half)
    assert a["family"]["name"] == config.build(None, extra).model.family
    assert_same(a["state"], b["state"])
    pipe = gankit.load(str(full))
    x = pipe.sample(20, seed=3)
    assert x.shape == (20, 1, 8, 8) and x.abs().max() <= 1
    assert torch.equal(x, gankit.load(str(half)).sample(20, seed=3))
    if family in ("conditional", "acgan"):
        assert pipe.num_classes == 10
        three = pipe.sample(4, seed=0, classes=3)
        z = pipe.latents(4, seed=0)
        assert torch.equal(three, pipe.generate(z, torch.full((4,), 3)))
    if family == "bigan":
        assert pipe.encode(x).shape == (20, 8)


def test_conditional_fake_labels_follow_the_class_shares():
    cfg = config.build(None, [*TINY_MLP, "model.family=conditional", "data.name=digits",
                              "model.g_cond=embed"])
    info = DataInfo((1, 8, 8), 3, [0.7, 0.2, 0.1])
    fam = make_family(cfg, info)
    _, labels = fam.g_input(20000, torch.Generator().manual_seed(0))
    shares = torch.bincount(labels, minlength=3).double() / 20000
    torch.testing.assert_close(shares, torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64),
                               atol=0.01, rtol=0)


def _tiny_family(extra):
    cfg = config.build(None, [*TINY_MLP, "data.name=digits", "model.z_dim=4", *extra])
    fam = make_family(cfg, DataInfo((1, 8, 8), 10, [0.1] * 10))
    torch.manual_seed(0)
    nets = {k: build_net(s) for k, s in fam.specs().items()}
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    batch = Batch(x, torch.tensor([0, 1, 2, 3, 4, 5]))
    fake = fam.fake(nets, batch, torch.Generator().manual_seed(1))
    return fam, nets, batch, fake


def test_acgan_class_terms_against_hand_computation():
    fam, nets, batch, fake = _tiny_family(["model.family=conditional", "model.d_cond=acgan",
                                           "model.g_cond=embed", "reg.cls_weight=0.5"])
    d = nets["d"]
    real_out, fake_out = d(batch.x), d(fake.x.detach())
    assert real_out.shape == (6, 11)
    terms = fam.d_terms(nets, batch, fake.detach(), PhaseCtx(torch.Generator(), r1=False))
    want = 0.5 * (F.cross_entropy(real_out[:, 1:], batch.y) + F.cross_entropy(fake_out[:, 1:],
                                                                                fake.c))
    torch.testing.assert_close(terms["d_cls"], want, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(terms["d_real"], F.softplus(-real_out[:, 0]).mean())
    g_terms = fam.g_terms(nets, batch, fake)
    torch.testing.assert_close(g_terms["g_cls"], 0.5 * F.cross_entropy(d(fake.x)[:, 1:], fake.c))
    torch.testing.assert_close(g_terms["g_adv"], F.softplus(-d(fake.x)[:, 0]).mean())


def test_acgan_real_only_classifier_ignores_the_fake_labels():
    """reg.cls_fake=false: D's class term is the real images' cross-entropy alone, so a wrong
    label on a fake changes nothing (G's term still uses them)."""
    fam, nets, batch, fake = _tiny_family(["model.family=conditional", "model.d_cond=acgan",
                                           "reg.cls_fake=false", "reg.cls_weight=0.5"])
    ctx = PhaseCtx(torch.Generator(), r1=False)
    terms = fam.d_terms(nets, batch, fake.detach(), ctx)
    want = 0.5 * F.cross_entropy(nets["d"](batch.x)[:, 1:], batch.y)
    torch.testing.assert_close(terms["d_cls"], want, rtol=1e-6, atol=1e-7)
    relabelled = dataclasses.replace(fake.detach(), c=(fake.c + 1) % 10)
    assert torch.equal(fam.d_terms(nets, batch, relabelled, ctx)["d_cls"], terms["d_cls"])
    assert not torch.equal(fam.g_terms(nets, batch, relabelled)["g_cls"],
                           fam.g_terms(nets, batch, fake)["g_cls"])


def test_infogan_bound_against_hand_computation():
    fam, nets, batch, fake = _tiny_family(["model.family=infogan", "model.cat_codes=[3]",
                                           "model.cont_codes=2", "reg.info_weight=2"])
    assert fake.z.shape == (6, 4 + 3 + 2)
    cat, cont = fake.codes["cat"][:, 0], fake.codes["cont"]
    assert torch.equal(fake.z[:, 4:7].argmax(1), cat) and torch.equal(fake.z[:, 7:], cont)
    out = nets["d"](fake.x)
    assert out.shape == (6, 1 + 3 + 2)
    nll = 0.5 * (cont - out[:, 4:]).square() + 0.5 * math.log(2 * math.pi)
    want = 2 * (F.cross_entropy(out[:, 1:4], cat) + nll.sum(1).mean())
    torch.testing.assert_close(fam.g_terms(nets, batch, fake)["g_info"], want)
    d_terms = fam.d_terms(nets, batch, fake.detach(), PhaseCtx(torch.Generator(), r1=False))
    torch.testing.assert_close(d_terms["d_info"], want)
    fam, nets, batch, fake = _tiny_family(["model.family=infogan", "model.cat_codes=[3]",
                                           "model.cont_codes=2", "reg.info_cont_weight=0.1"])
    out = nets["d"](fake.x)
    nll = 0.5 * (fake.codes["cont"] - out[:, 4:]).square() + 0.5 * math.log(2 * math.pi)
    want = F.cross_entropy(out[:, 1:4], fake.codes["cat"][:, 0]) + 0.1 * nll.sum(1).mean()
    torch.testing.assert_close(fam.g_terms(nets, batch, fake)["g_info"], want)


def test_bigan_scores_joint_pairs_with_labels_swapped_for_g_and_e():
    fam, nets, batch, fake = _tiny_family(["model.family=bigan"])
    d, e = nets["d"], nets["e"]
    assert set(nets) == {"g", "d", "e"} and fam.g_side == ("g", "e")
    enc = e(batch.x)
    assert enc.shape == (6, 4) and torch.equal(fake.enc, enc)
    real_pair, fake_pair = d(batch.x, enc), d(fake.x, fake.z)
    terms = fam.d_terms(nets, batch, fake.detach(), PhaseCtx(torch.Generator(), r1=False))
    torch.testing.assert_close(terms["d_real"], F.softplus(-real_pair).mean())
    torch.testing.assert_close(terms["d_fake"], F.softplus(fake_pair).mean())
    g = fam.g_terms(nets, batch, fake)
    torch.testing.assert_close(g["g_adv"], F.softplus(-fake_pair).mean())  # G: fake pair real
    torch.testing.assert_close(g["e_adv"], F.softplus(real_pair).mean())  # E: data pair fake
    assert "cycle_x" not in g


def test_bigan_cycle_terms_against_hand_computation():
    fam, nets, batch, fake = _tiny_family(["model.family=bigan", "reg.cycle_weight=0.5"])
    g = fam.g_terms(nets, batch, fake)
    x_hat, z_hat = nets["g"](nets["e"](batch.x)), nets["e"](fake.x)
    torch.testing.assert_close(g["cycle_x"], 0.5 * (x_hat - batch.x).square().mean())
    torch.testing.assert_close(g["cycle_z"], 0.5 * (z_hat - fake.z).square().mean())


COMBOS = {  # family x architecture x loss x regulariser combinations that make sense
    "resnet-sn-hinge": ["model.arch=resnet", "loss=hinge", "model.d_sn=true"],
    "cgan-resnet-attn": ["model.family=conditional", "model.arch=resnet", "loss=hinge",
                         "model.d_sn=true", "model.g_sn=true", "model.attn_res=4"],
    "acgan-r1": ["model.family=conditional", "model.d_cond=acgan", "model.d_norm=none",
                 "reg.r1_gamma=1", "reg.r1_every=2"],
    "cgan-mlp-lsgan-wd": ["model.family=conditional", "model.arch=mlp", "loss=lsgan",
                          "model.g_cond=embed", "reg.d_wd=0.001", "reg.g_wd=0.001"],
    "infogan-pl-clip": ["model.family=infogan", "model.cat_codes=[10]", "model.cont_codes=2",
                        "loss=hinge", "reg.pl_weight=2", "reg.pl_every=2", "reg.d_clip_grad=1",
                        "reg.g_clip_grad=1"],
    "infogan-wgan-gp": ["model.family=infogan", "model.cat_codes=[4]", "loss=wgan",
                        "reg.gp_lambda=10", "model.d_norm=none", "optim.n_critic=2"],
    "bigan-resnet-r1": ["model.family=bigan", "model.arch=resnet", "reg.r1_gamma=1"],
    "dcgan-attn-wgan-clip": ["model.attn_res=4", "loss=wgan", "reg.clip_d=0.01"],
    "discrete-prior": ["model.cat_codes=[4,3]", "model.prior=uniform"],
    "dcgan-resize-cgan": ["model.g_upsample=resize", "model.family=conditional"],
    "cgan-cbn-pl": ["model.family=conditional", "model.g_cond=cbn", "reg.pl_weight=2",
                    "reg.pl_every=1"],
}


@pytest.mark.parametrize("name", list(COMBOS))
def test_combinations_train_resume_and_sample(tmp_path, name):
    extra = [*TINY_DCGAN, "train.steps=4", "train.ckpt_every=2", "train.sample_every=2",
             "health.every=0", *COMBOS[name]]  # health off: gradient norms only from clipping
    full, _ = train_full_and_resumed(tmp_path, extra)
    a = checkpoint.load(full)["state"]
    if "reg.pl_weight=2" in extra:
        assert a["rng_ranks"][0]["extra"]["pl_mean"] > 0
    assert gankit.load(str(full)).sample(3).shape == (3, 1, 8, 8)
    log = (full / "metrics.jsonl").read_text()
    for key, term in [("reg.d_wd", "d_wd"), ("reg.d_clip_grad", "d_grad_norm"),
                      ("reg.pl_weight", "g_pl"), ("model.d_cond=acgan", "g_cls")]:
        assert (term in log) == any(e.startswith(key) for e in extra), term


def test_points_families_with_mlp(tmp_path):
    run = train(config.build(None, [*TINY_MLP, "model.family=infogan", "model.cat_codes=[8]",
                                    "reg.pl_weight=1"]), out=tmp_path / "run")
    pipe = gankit.load(str(run))
    assert pipe.sample(5, codes={"c0": 2}).shape == (5, 2)


BAD = [
    (["reg.clip_d=0.01", "model.d_sn=true", "loss=wgan"], "reg.clip_d", "model.d_sn"),
    (["model.family=conditional", "data.name=ring8", "model.arch=mlp"], "model.family",
     "data.name=ring8"),
    (["model.family=conditional", "model.d_cond=acgan", "data.name=ring8", "model.arch=mlp"],
     "model.family", "data.name"),
    (["model.arch=mlp", "model.attn_res=4"], "model.attn_res", "model.arch"),
    (["model.arch=mlp", "model.family=conditional", "model.g_cond=cbn"], "model.g_cond",
     "model.arch"),
    (["model.family=bigan", "reg.gp_lambda=10", "model.d_norm=none", "loss=wgan"],
     "reg.gp_lambda", "model.family=bigan"),
    (["model.family=infogan"], "model.family=infogan", "model.cat_codes"),
    (["model.cont_codes=2"], "model.cont_codes", "model.family"),
    (["model.family=bigan", "data.name=ring8", "model.arch=mlp"], "model.family=bigan",
     "data.name"),
    (["model.family=gan"], "model.family", "allowed: bigan, conditional, cyclegan, image2image, infogan"),
    (["model.cat_codes=[1]"], "model.cat_codes", ">= 2"),
    (["reg.ms_weight=1"], "reg.ms_weight", "model.family=conditional"),
    (["model.d_cond=acgan"], "model.d_cond=acgan", "model.family"),
    (["model.family=conditional", "data.name=digits", "reg.cls_fake=false"], "reg.cls_fake",
     "model.d_cond"),
    (["reg.cls_fake=false"], "reg.cls_fake", "model.d_cond"),
    (["model.family=infogan", "model.cat_codes=[4]", "reg.cycle_weight=1"], "reg.cycle_weight",
     "model.family=bigan"),
    (["model.family=bigan", "model.cat_codes=[4]"], "model.cat_codes", "model.family=bigan"),
    (["loss=wgan"], "loss=wgan", "model.d_sn"),
    (["model.arch=resnet", "model.g_upsample=resize"], "model.g_upsample=resize",
     "model.arch is resnet"),
]


@pytest.mark.parametrize("extra,key1,key2", BAD)
def test_nonsense_is_refused_before_the_run_folder(tmp_path, extra, key1, key2):
    with pytest.raises(GankitError) as err:
        train(config.build(None, [*TINY_DCGAN, *extra]), out=tmp_path / "run")
    assert key1 in str(err.value) and key2 in str(err.value), str(err.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("source", ["folder", "npz"])
def test_conditional_on_folder_classes_and_npz_labels(tmp_path, source):
    from PIL import Image

    rng = torch.Generator().manual_seed(0)
    images = (torch.rand(24, 8, 8, generator=rng) * 255).to(torch.uint8)
    labels = torch.arange(24) % 3
    if source == "folder":
        for i, (img, y) in enumerate(zip(images, labels)):
            (tmp_path / "imgs" / f"class{int(y)}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.numpy()).save(tmp_path / "imgs" / f"class{int(y)}" / f"{i}.png")
        name = f"folder:{tmp_path / 'imgs'}"
    else:
        import numpy as np

        np.savez(tmp_path / "d.npz", x=images.numpy(), y=labels.numpy())
        name = f"npz:{tmp_path / 'd.npz'}"
    run = train(config.build(None, [*TINY_DCGAN, f"data.name={name}", "train.batch_size=8",
                                    "train.steps=2", "model.family=conditional"]),
                out=tmp_path / "run")
    pipe = gankit.load(str(run))
    assert pipe.num_classes == 3 and pipe.family["class_freq"] == pytest.approx([1 / 3] * 3)
    assert pipe.sample(4, classes=2).shape == (4, 1, 8, 8)
    with pytest.raises(GankitError, match="this model has 3 classes"):
        pipe.sample(2, classes=3)


def test_mode_seeking_pairs_share_a_class_and_its_value():
    from gankit.families.conditional import mode_seeking

    fam, nets, batch, fake = _tiny_family(["model.family=conditional", "model.g_cond=embed",
                                           "reg.ms_weight=0.5"])
    assert torch.equal(fake.c[:3], fake.c[3:])  # rows i and i + N/2 share a class
    x, z = fake.x, fake.z
    ratio = (x[:3] - x[3:]).abs().mean() / (z[:3] - z[3:]).abs().mean()
    torch.testing.assert_close(mode_seeking(x, z), 1 / (ratio + 1e-5))
    torch.testing.assert_close(fam.g_terms(nets, batch, fake)["g_ms"], 0.5 / (ratio + 1e-5))


def test_resume_refuses_data_whose_classes_changed(tmp_path):
    from PIL import Image

    for i in range(12):
        (tmp_path / "imgs" / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray((torch.rand(8, 8) * 255).to(torch.uint8).numpy()).save(
            tmp_path / "imgs" / f"c{i % 2}" / f"{i}.png")
    extra = [*TINY_DCGAN, f"data.name=folder:{tmp_path / 'imgs'}", "train.batch_size=4",
             "train.steps=2", "model.family=conditional"]
    run = train(config.build(None, extra), out=tmp_path / "run")
    (tmp_path / "imgs" / "c2").mkdir()
    for i in range(4):
        Image.fromarray((torch.rand(8, 8) * 255).to(torch.uint8).numpy()).save(
            tmp_path / "imgs" / "c2" / f"{i}.png")
    before = (run / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(GankitError, match="no longer fit the checkpoint's networks"):
        train(None, resume=run, overrides=["train.steps=4"])
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_wgan_with_spectral_norm_is_a_lipschitz_constraint(tmp_path):
    run = train(config.build(None, [*TINY_DCGAN, "loss=wgan", "model.d_sn=true",
                                    "model.d_norm=none", "train.steps=2"]), out=tmp_path / "r")
    assert checkpoint.load(run)["state"]["step"] == 2


def test_encoder_ema_has_its_own_batch_norm_statistics(tmp_path):
    run = train(config.build(None, [*TINY_DCGAN, "model.family=bigan", "data.resolution=16",
                                    "train.steps=3"]), out=tmp_path / "run")
    st = checkpoint.load(run)["state"]
    keys = [k for k in st["ema"]["e"] if k.endswith("running_mean")]
    assert keys and all(not torch.equal(st["ema"]["e"][k], st["nets"]["e"][k]) for k in keys)


def test_gradient_norms_are_diagnostics_not_divergence():
    from gankit.train.distributed import DistInfo
    from gankit.train.hooks import Hooks, TrainingDiverged

    hooks = Hooks.__new__(Hooks)
    hooks.info, hooks.run_dir = DistInfo(), Path("run")
    hooks.pending = [(1, {"d_real": torch.tensor(0.5), "d_grad_norm": torch.tensor(float("inf"))}),
                     (2, {"d_real": torch.tensor(0.7), "d_grad_norm": torch.tensor(3.0)})]
    assert hooks._check_finite() == pytest.approx({"d_real": 0.6, "d_grad_norm": 1.5})
    hooks.pending = [(3, {"d_real": torch.tensor(float("nan")), "d_grad_norm": torch.tensor(1.0)})]
    with pytest.raises(TrainingDiverged, match="loss d_real became nan at step 3"):
        hooks._check_finite()


def test_interpolation_moves_the_noise_and_keeps_one_hot_codes(tmp_path):
    from gankit.pipelines.interpolate import interpolate

    run = train(config.build(None, [*TINY_DCGAN, "model.family=infogan", "model.cat_codes=[4]",
                                    "train.steps=1"]), out=tmp_path / "run")
    pipe = gankit.load(str(run))
    seen = []
    real_generate = pipe.generate
    pipe.generate = lambda z, c=None, batch_size=256: seen.append(z) or real_generate(z, c)
    interpolate(pipe, [0, 1], steps=5)
    codes = seen[0][:, 8:]
    assert torch.equal(codes, pipe.latents(1, seed=0)[:, 8:].expand(5, -1))


def test_resnet_folder_preset_trains_on_an_rgb_folder(tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    for i in range(8):
        arr = (torch.rand(40, 48, 3) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(tmp_path / "imgs" / f"{i}.png")
    cfg = config.build("resnet-folder", [f"data.name=folder:{tmp_path / 'imgs'}",
                                         "model.g_width=4", "model.d_width=4", "train.steps=2",
                                         "train.batch_size=4", "train.tensorboard=false",
                                         "train.progress=false", "train.sample_every=0"])
    run = train(cfg, out=tmp_path / "run")
    assert gankit.load(str(run)).sample(2).shape == (2, 3, 32, 32)
