"""Image-to-image families (pix2pix, SRGAN, CycleGAN), their data and the inpaint / upscale /
translate tools: terms against hand computations, exact resume, known pixels kept, sizes,
and every bad input as one line with exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import HEALTH_ON, assert_same, checks, train_full_and_resumed
from PIL import Image
from test_cli import assert_user_error, cli

from gankit import checkpoint, config
from gankit import data as data_mod
from gankit.data import corrupt, masks
from gankit.data.pairs import UnpairedData, split_parts
from gankit.data.photos import PHOTOS_HELD_OUT, PHOTOS_TRAIN, CropData
from gankit.errors import GankitError
from gankit.families import Batch, PhaseCtx, data_info, make_family
from gankit.families.cyclegan import pool_query
from gankit.nets import build_net
from gankit.pipelines.restore import load_image_model
from gankit.train.loop import train

COMMON = ["model.g_width=8", "model.d_width=8", "train.batch_size=4", "train.steps=4",
          "train.log_every=1", "train.sample_every=2", "train.ckpt_every=2",
          "train.tensorboard=false", "train.progress=false", "device=cpu"]
PIX2PIX = ["model.family=image2image", "data.name=photos", "data.resolution=32",
           "data.pairs=inpaint", *COMMON]
SRGAN = ["model.family=superres", "data.name=photos", "data.resolution=24", "model.scale=3",
         "model.blocks=1", "train.pretrain_steps=2", "reg.l1_weight=1", "reg.adv_weight=0.01",
         "reg.fm_weight=1", "model.d_norm=none", *COMMON]
CYCLE = ["model.family=cyclegan", "data.name=mnist5k", "data.name_b=digits",
         "data.resolution=16", "model.blocks=1", "model.d_norm=instance", "loss=lsgan",
         "reg.cycle_weight=10", "reg.pool_size=3", *COMMON]


def _family(extra):
    cfg = config.build(None, extra)
    ds = data_mod.load(cfg.data)
    fam = make_family(cfg, data_info(ds))
    torch.manual_seed(0)
    nets = {k: build_net(s) for k, s in fam.specs().items()}
    return cfg, ds, fam, nets


def _batch(ds, n=4, seed=0):
    x = data_mod.make_sampler(ds, n, seed).next()[0]
    return Batch(data_mod.base.to_unit_range(x))


# ------------------------------------------------------------------ data


def test_photos_are_random_crops_drawn_with_a_fixed_number_of_draws():
    ds = data_mod.load(config.build(None, ["data.name=photos", "data.resolution=40"]).data)
    assert isinstance(ds, CropData) and ds.shape == (3, 40, 40)
    assert not {f for _, f in PHOTOS_TRAIN} & {f for _, f in PHOTOS_HELD_OUT}
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, _ = ds.sample(5, g1)
    b, _ = ds.sample(5, g2)
    assert a.dtype == torch.uint8 and a.shape == (5, 3, 40, 40) and torch.equal(a, b)
    ref = torch.Generator().manual_seed(3)
    torch.rand(5, 3, generator=ref, dtype=torch.float64)
    assert torch.equal(g1.get_state(), ref.get_state())
    # every crop is a window of one training photo
    crop = a[0]
    assert any((im.unfold(1, 40, 1).unfold(2, 40, 1) == crop[:, None, None]).flatten(3)
               .all(-1).all(0).any() for im in ds.images)


def test_photos_refuse_a_crop_larger_than_an_image_and_a_holdout():
    with pytest.raises(GankitError, match="data.resolution=1024"):
        data_mod.load(config.build(None, ["data.name=photos", "data.resolution=1024"]).data)
    with pytest.raises(GankitError, match="data.holdout"):
        data_mod.load(config.build(None, ["data.name=photos", "data.holdout=2"]).data)


def _write_pairs(root, names, size=(20, 20)):
    for side, value in (("A", 40), ("B", 200)):
        (root / side).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            arr = np.full((*size, 3), value + i, np.uint8)
            Image.fromarray(arr).save(root / side / f"{name}.png")


def test_pairs_folders_load_aligned_by_file_name(tmp_path):
    _write_pairs(tmp_path, ["a", "b", "c"])
    ds = data_mod.load(config.build(None, [f"data.name=pairs:{tmp_path}/A,{tmp_path}/B",
                                           "data.resolution=16"]).data)
    assert ds.parts == (3, 3) and ds.shape == (6, 16, 16)
    a, b = split_parts(ds.x, ds.parts)
    assert torch.equal(b.float() - a.float(), torch.full_like(a, 160).float())
    (tmp_path / "B" / "c.png").rename(tmp_path / "B" / "d.png")
    with pytest.raises(GankitError, match="same file names; c is only in"):
        data_mod.load(config.build(None, [f"data.name=pairs:{tmp_path}/A,{tmp_path}/B"]).data)


def test_two_domains_are_sampled_independently_and_resume():
    cfg = config.build(None, ["data.name=mnist5k", "data.name_b=digits", "data.resolution=16"])
    ds = data_mod.load(cfg.data)
    assert isinstance(ds, UnpairedData) and ds.shape == (2, 16, 16) and ds.parts == (1, 1)
    s = data_mod.make_sampler(ds, 8, 0)
    s.next()
    state = s.state_dict()
    nxt = s.next()[0]
    s2 = data_mod.make_sampler(ds, 8, 0)
    s2.load_state_dict(state)
    assert torch.equal(s2.next()[0], nxt)


# ------------------------------------------------------------------ corruptions


def test_sr_degrade_is_bicubic_down_quantised_and_draws_fixed_counts():
    hr = torch.rand(2, 3, 12, 12) * 2 - 1
    lr = corrupt.sr_degrade(hr, 3, torch.Generator())
    assert lr.shape == (2, 3, 4, 4)
    assert torch.allclose(lr, corrupt.quantize(corrupt.bicubic_down(hr, 3)))
    assert torch.allclose((lr + 1) * 127.5, ((lr + 1) * 127.5).round(), atol=1e-4)
    g = torch.Generator().manual_seed(1)
    corrupt.sr_degrade(hr, 3, g, blur_max=1.0, noise_max=0.05)
    ref = torch.Generator().manual_seed(1)
    torch.rand(2, generator=ref), torch.rand(2, generator=ref), torch.randn(2, 3, 4, 4, generator=ref)
    assert torch.equal(g.get_state(), ref.get_state())


def test_blur_keeps_a_constant_image_and_grey_is_bt601_luma():
    x = torch.full((1, 3, 9, 9), 0.25)
    assert torch.allclose(corrupt.blur(x, 1.5), x, atol=1e-6)
    rgb = torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1)
    assert torch.allclose(corrupt.grey(rgb), torch.tensor(0.299 - 0.587).view(1, 1, 1, 1))


# ------------------------------------------------------------------ loss terms


def test_pix2pix_keeps_known_pixels_and_terms_match_a_hand_computation():
    _cfg, ds, fam, nets = _family(PIX2PIX)
    batch = _batch(ds)
    fake = fam.fake(nets, batch, torch.Generator().manual_seed(0))
    hole = fake.mask
    assert torch.equal(fake.x[hole.expand_as(fake.x) == 0], batch.x[hole.expand_as(batch.x) == 0])
    inp = fake.z
    assert inp.shape == (4, 4, 32, 32) and torch.equal(inp[:, 3:], hole)
    terms = fam.d_terms(nets, batch, fake.detach(), PhaseCtx(torch.Generator(), r1=False))
    d = nets["d"]
    real = d(torch.cat([inp, batch.x], 1))
    fk = d(torch.cat([inp, fake.x.detach()], 1))
    assert torch.allclose(terms["d_real"], F.softplus(-real).mean(), atol=1e-6)
    assert torch.allclose(terms["d_fake"], F.softplus(fk).mean(), atol=1e-6)
    g = fam.g_terms(nets, batch, fake)
    assert torch.allclose(g["g_adv"], F.softplus(-fk).mean(), atol=1e-6)
    assert torch.allclose(g["g_content"], 100 * (fake.x - batch.x).abs().mean(), atol=1e-5)


def test_srgan_terms_match_a_hand_computation():
    _cfg, ds, fam, nets = _family(SRGAN)
    batch = _batch(ds)
    fake = fam.fake(nets, batch, torch.Generator().manual_seed(0))
    assert fake.z.shape == (4, 3, 8, 8) and fake.x.shape == (4, 3, 24, 24)
    g = fam.g_terms(nets, batch, fake)
    d = nets["d"]
    fm = sum((a - b).abs().mean() for a, b in zip(d.features(fake.x), d.features(batch.x)))
    assert torch.allclose(g["g_content"], (fake.x - batch.x).abs().mean(), atol=1e-6)
    assert torch.allclose(g["g_adv"], 0.01 * F.softplus(-d(fake.x)).mean(), atol=1e-6)
    assert torch.allclose(g["g_fm"], fm, atol=1e-5)
    assert not fam.adversarial(1) and fam.adversarial(2)


def test_cyclegan_terms_match_a_hand_computation():
    _cfg, ds, fam, nets = _family(CYCLE + ["reg.pool_size=0"])
    batch = _batch(ds)
    fake = fam.fake(nets, batch, torch.Generator())
    a, b = split_parts(batch.x, (1, 1))
    g = fam.g_terms(nets, batch, fake)
    fb, fa = nets["g"](a), nets["g_ba"](b)
    assert torch.allclose(g["g_adv"], 0.5 * (nets["d"](fb) - 1).square().mean(), atol=1e-6)
    cyc = (nets["g_ba"](fb) - a).abs().mean() + (nets["g"](fa) - b).abs().mean()
    assert torch.allclose(g["g_cycle"], 10 * cyc, atol=1e-5)
    idt = (nets["g"](b) - b).abs().mean() + (nets["g_ba"](a) - a).abs().mean()
    assert torch.allclose(g["g_idt"], 5 * idt, atol=1e-5)
    d = fam.d_terms(nets, batch, fake.detach(), PhaseCtx(torch.Generator(), r1=False))
    assert {k for k in d if "_acc_" not in k and "_logit_" not in k} == {"d_real", "d_fake", "da_real", "da_fake"}


@pytest.mark.parametrize("downs,strided", [(None, 1), (0, 0), (2, 2)])
def test_cyclegan_translators_downsample_as_configured(downs, strided):
    extra = [] if downs is None else [f"model.g_downs={downs}"]
    _cfg, _ds, _fam, nets = _family(CYCLE + extra)
    for name in ("g", "g_ba"):
        convs = [m for m in nets[name].modules() if isinstance(m, torch.nn.Conv2d)]
        assert sum(m.stride == (2, 2) for m in convs) == strided  # 16 px: one by default
        assert nets[name](torch.zeros(2, 1, 16, 16)).shape == (2, 1, 16, 16)


def test_image_pool_fills_then_swaps_half_and_draws_fixed_counts():
    extra: dict = {}
    gen = torch.Generator().manual_seed(0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool_query(extra, "p", first, 4, gen), first)
    assert torch.equal(extra["p"], first)
    new = first + 10
    out = pool_query(extra, "p", new, 4, gen)
    returned_old = (out < 10).flatten()
    assert 0 < int(returned_old.sum()) < 4  # some swapped for pooled fakes, some not
    assert sorted(torch.cat([extra["p"], out]).flatten().tolist()) == sorted(
        torch.cat([first, new]).flatten().tolist())  # nothing lost, nothing duplicated
    ref = torch.Generator().manual_seed(0)
    for _ in range(2):
        torch.rand(4, generator=ref), torch.randint(4, (4,), generator=ref)
    assert torch.equal(gen.get_state(), ref.get_state())


# ------------------------------------------------------------------ training and resume


@pytest.mark.parametrize("extra", [PIX2PIX, SRGAN, [*SRGAN, "model.upsampler=espcn"], CYCLE],
                         ids=["pix2pix", "srgan", "srgan-espcn", "cyclegan"])
def test_each_family_resumes_exactly(tmp_path, extra):
    full, _ = train_full_and_resumed(tmp_path, [*extra, *HEALTH_ON], steps=4)
    assert (full / "samples" / "step-0000004.png").is_file()
    values = checks(full)[-1]["values"]  # gradients only: outputs follow their inputs, and
    assert "g_grad_norm" in values and "diversity" not in values  # D may win without harm
    assert "d_acc_real" not in values


def test_espcn_upsampler_is_recorded_and_upscales_from_the_run(tmp_path):
    run = train(config.build(None, [*SRGAN, "model.upsampler=espcn"]), out=tmp_path / "run")
    assert checkpoint.load(run)["specs"]["g"]["kwargs"]["upsampler"] == "espcn"
    model = load_image_model(run)
    assert len(model.g.up) == 0  # rebuilt as ESPCN, not SRGAN's stages
    assert model.upscale(torch.randint(0, 256, (3, 9, 11), dtype=torch.uint8)).shape == (3, 27, 33)


def test_srgan_content_pretraining_leaves_d_alone_and_is_kept(tmp_path):
    run = train(config.build(None, SRGAN), out=tmp_path / "run")
    content = checkpoint.load(run / "checkpoints" / "content.pt")
    last = checkpoint.load(run)
    assert content["state"]["step"] == 2 and last["state"]["step"] == 4
    _, _, _, nets = _family(SRGAN)
    assert_same(content["state"]["nets"]["d"], nets["d"].state_dict())  # D untouched
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "d_real" not in rows[0] and "d_real" in rows[-1] and "g_content" in rows[0]


def test_bad_image_to_image_configs_name_their_keys():
    cases = [
        (["model.family=image2image", "data.name=photos", "data.resolution=32"], "data.pairs"),
        (["model.family=superres", "data.name=photos", "data.resolution=32", "model.scale=3"],
         "multiple of model.scale=3"),
        (["model.family=cyclegan", "data.name=mnist5k"], "data.name_b"),
        (["data.pairs=grey", "data.name=photos"], "data.pairs is for model.family=image2image"),
        (["model.d_norm=instance"], "model.d_norm=instance"),
        ([*PIX2PIX, "aug.kind=diffaug"], "aug.kind"),
        (["model.family=image2image", "data.name=photos", "data.resolution=48",
          "data.pairs=blur"], "power of two"),
        ([*PIX2PIX, "train.eval_every=2"], "train.eval_every=2"),
        ([*SRGAN, "reg.adv_weight=0"], "reg.fm_weight > 0 with reg.adv_weight=0"),
        ([*PIX2PIX, "model.upsampler=espcn"], "model.upsampler is for model.family=superres"),
        ([*SRGAN, "model.g_upsample=resize"], "model.g_upsample does not apply"),
        ([*CYCLE, "data.resolution=15"], "multiple of 2"),
        ([*CYCLE, "data.resolution=18", "model.g_downs=2"], "multiple of 4"),
        ([*CYCLE, "model.g_downs=4"], "at least 32"),
        ([*CYCLE, "model.g_downs=5"], "model.g_downs: must be 0..4"),
        ([*PIX2PIX, "model.g_downs=1"], "model.g_downs is for model.family=cyclegan"),
    ]
    from gankit import checks

    for extra, needle in cases:
        with pytest.raises(GankitError, match=needle):
            cfg = config.build(None, extra)
            checks.check(cfg)
            make_family(cfg, data_info(data_mod.load(cfg.data)))


# ------------------------------------------------------------------ the tools


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("i2i")
    return {name: train(config.build(None, extra), out=root / name)
            for name, extra in (("inpaint", PIX2PIX), ("sr", SRGAN), ("cycle", CYCLE))}


def _save(path, arr):
    Image.fromarray(arr).save(path)
    return path


def test_inpaint_fills_only_the_hole_at_any_size(runs, tmp_path, capsys):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (45, 70, 3), dtype=np.uint8)
    mask = np.zeros((45, 70), np.uint8)
    mask[10:30, 20:50] = 255
    out = tmp_path / "filled.png"
    proc = cli(capsys, "inpaint", runs["inpaint"], "--image", _save(tmp_path / "x.png", img),
               "--mask", _save(tmp_path / "m.png", mask), "--out", out)
    assert proc.returncode == 0, proc.stderr
    filled = np.asarray(Image.open(out))
    assert filled.shape == img.shape
    assert np.array_equal(filled[mask == 0], img[mask == 0])
    assert not np.array_equal(filled[mask > 0], img[mask > 0])


def test_upscale_is_exactly_scale_times_an_odd_input(runs, tmp_path, capsys):
    img = np.random.default_rng(1).integers(0, 256, (29, 37, 3), dtype=np.uint8)
    out = tmp_path / "big.png"
    proc = cli(capsys, "upscale", runs["sr"], "--image", _save(tmp_path / "s.png", img),
               "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (111, 87)


def test_tiled_upscale_equals_untiled_within_a_level(runs):
    pipe = load_image_model(runs["sr"])
    img = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (3, 70, 90),
                                                             dtype=np.uint8))
    whole = pipe.upscale(img, tile=0).int()
    tiles = pipe.upscale(img, tile=40).int()
    assert whole.shape == tiles.shape == (3, 210, 270)
    diff = (whole - tiles).abs()
    assert int(diff.max()) <= 1 and float((diff > 0).float().mean()) < 0.01


def test_translate_a_folder_both_ways(runs, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        _save(src / f"{i}.png", np.full((16, 16), 30 * i, np.uint8))
    for direction in ("a2b", "b2a"):
        out = tmp_path / direction
        proc = cli(capsys, "translate", runs["cycle"], "--image", src, "--out", out,
                   "--direction", direction)
        assert proc.returncode == 0, proc.stderr
        assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png"]


def test_tools_refuse_bad_input_in_one_line(runs, tmp_path, capsys):
    img = _save(tmp_path / "x.png", np.zeros((20, 24, 3), np.uint8))
    tiny = _save(tmp_path / "t.png", np.zeros((5, 6, 3), np.uint8))
    mask = _save(tmp_path / "m.png", np.zeros((10, 10), np.uint8))
    text = tmp_path / "n.png"
    text.write_text("not an image")
    cases = [
        (("inpaint", runs["inpaint"], "--image", img, "--mask", mask), "m.png: mask is 10x10"),
        (("upscale", runs["sr"], "--image", text), "n.png: not a readable image"),
        (("upscale", runs["sr"], "--image", tiny), "t.png: 6x5 px, smaller than"),
        (("upscale", runs["sr"], "--image", img, "--scale", "4"), "trained for x3"),
        (("upscale", runs["inpaint"], "--image", img), "use gankit inpaint"),
        (("translate", runs["inpaint"], "--image", img), "use gankit inpaint"),
        (("translate", runs["sr"], "--image", img), "use gankit upscale"),
        (("translate", runs["cycle"], "--image", img, "--direction", "up"), "choose a2b or b2a"),
        (("sample", runs["sr"], "--out", tmp_path / "s.png"), "use gankit upscale"),
        (("translate", runs["cycle"], "--image", img, "--tile", "64"), "instance norm"),
    ]
    for args, needle in cases:
        extra = () if args[0] == "sample" else ("--out", tmp_path / "o.png")
        assert_user_error(cli(capsys, *args, *extra), needle)
    assert not (tmp_path / "o.png").exists()


def test_masks_of_the_image_size_only(tmp_path):
    _save(tmp_path / "m.png", np.zeros((10, 12), np.uint8))
    with pytest.raises(GankitError, match="12x10"):
        masks.load_mask(tmp_path / "m.png", (11, 12))


def test_harmonic_fill_reproduces_a_linear_ramp_and_keeps_known_pixels():
    ramp = torch.linspace(-1, 1, 32).view(1, 1, 1, 32).expand(2, 3, 32, 32).contiguous()
    hole = masks.rect_masks(2, 32, 32, torch.Generator().manual_seed(0))
    filled = corrupt.harmonic_fill(ramp, hole, iters=200)
    known = hole.expand_as(ramp) == 0
    assert torch.equal(filled[known], ramp[known])
    assert float((filled - ramp).abs().max()) < 0.02  # a ramp is harmonic: the fill finds it
    assert float((corrupt.inpaint_input(ramp, hole, False)[:, :3] - ramp).abs().max()) > 0.5


def test_prefill_g_adds_a_residual_to_the_fill_and_keeps_known_pixels():
    _cfg, ds, fam, nets = _family([*PIX2PIX, "model.prefill=true"])
    nets["g"].eval()  # no dropout: the same G output twice
    batch = _batch(ds)
    fake = fam.fake(nets, batch, torch.Generator().manual_seed(0))
    hole = fake.mask.expand_as(batch.x) > 0
    assert torch.equal(fake.x[~hole], batch.x[~hole])
    base = corrupt.harmonic_fill(batch.x, fake.mask)
    assert torch.equal(fake.z[:, :3], base)
    residual = nets["g"](fake.z)
    assert torch.allclose(fake.x[hole], (base + residual).clamp(-1, 1)[hole], atol=1e-6)
    with pytest.raises(GankitError, match="model.prefill"):
        from gankit import checks

        checks.check(config.build(None, ["model.prefill=true"]))


def test_log_means_skip_terms_absent_at_some_steps():
    from pathlib import Path

    from gankit.train.distributed import DistInfo
    from gankit.train.hooks import Hooks

    hooks = Hooks.__new__(Hooks)
    hooks.info, hooks.run_dir = DistInfo(), Path("run")
    hooks.pending = [(1, {"g_content": torch.tensor(1.0)}),
                     (2, {"g_content": torch.tensor(3.0), "d_real": torch.tensor(0.5)})]
    assert hooks._check_finite() == pytest.approx({"g_content": 2.0, "d_real": 0.5})


def test_a_folder_of_large_images_trains_as_random_crops(tmp_path):
    rng = np.random.default_rng(3)
    for i, size in enumerate([(70, 90), (64, 120)]):
        _save(tmp_path / f"{i}.png", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    cfg = config.build(None, [f"data.name=folder:{tmp_path}", "data.crops=true",
                              "data.resolution=32"])
    ds = data_mod.load(cfg.data)
    assert isinstance(ds, CropData) and ds.shape == (3, 32, 32) and len(ds.images) == 2
    assert {tuple(im.shape[1:]) for im in ds.images} == {(70, 90), (64, 120)}
    with pytest.raises(GankitError, match="data.crops=true takes random crops"):
        data_mod.load(config.build(None, ["data.crops=true"]).data)


def test_image2image_trains_on_aligned_pair_folders(tmp_path):
    _write_pairs(tmp_path, [f"im{i}" for i in range(6)], size=(32, 32))
    run = train(config.build(None, ["model.family=image2image",
                                    f"data.name=pairs:{tmp_path}/A,{tmp_path}/B",
                                    *COMMON]), out=tmp_path / "run")
    pipe = load_image_model(run)
    assert pipe.task == "pairs" and pipe.input_channels() == 3
    out = pipe.translate(torch.zeros(3, 32, 32, dtype=torch.uint8))
    assert out.shape == (3, 32, 32) and out.dtype == torch.uint8


def test_outputs_never_replace_inputs(runs, tmp_path, capsys):
    img = _save(tmp_path / "x.png", np.zeros((20, 24, 3), np.uint8))
    mask = _save(tmp_path / "m.png", np.zeros((20, 24), np.uint8))
    before = mask.read_bytes()
    assert_user_error(cli(capsys, "inpaint", runs["inpaint"], "--image", img, "--mask", mask,
                          "--out", mask), "is the mask")
    assert mask.read_bytes() == before
    src = tmp_path / "in"
    src.mkdir()
    _save(src / "a.png", np.zeros((16, 16), np.uint8))
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(src / "a.jpg")
    assert_user_error(cli(capsys, "translate", runs["cycle"], "--image", src, "--out",
                          tmp_path / "out"), "would both be written")
    assert not (tmp_path / "out").exists()


def test_pairs_refuse_skipping_unreadable_images(tmp_path):
    _write_pairs(tmp_path, ["a", "b"])
    with pytest.raises(GankitError, match="would shift every later pair"):
        data_mod.load(config.build(None, [f"data.name=pairs:{tmp_path}/A,{tmp_path}/B",
                                          "data.skip_bad=true"]).data)
