"""Start-up checks of the names in a config against the code that uses them.

config.py checks types, ranges and value combinations and imports nothing of gankit but
errors/registry (no import circles); the names that map to code (data set, architecture,
prior, loss, GAN family, metrics, extractor) and the combinations that depend on what an
architecture or family can do are checked here, before a run folder is made, with messages
that name the key(s) and the allowed values.
"""

from __future__ import annotations

from gankit.config import Config
from gankit.errors import GankitError

CONV_ARCHS = ("dcgan", "resnet")
ADA_LOSSES = ("ns", "minimax", "hinge")  # losses whose logit 0 separates real from fake


def check_names(cfg: Config) -> None:
    """Every name in `cfg` is registered; a GankitError naming the key otherwise."""
    from gankit import data, families, losses, nets
    from gankit.metrics import evaluate as ev

    losses.LOSSES.validate(cfg.loss, "loss")
    nets.ARCHS.validate(cfg.model.arch, "model.arch")
    nets.PRIORS.validate(cfg.model.prior, "model.prior")
    families.FAMILIES.validate(cfg.model.family, "model.family")
    data.check_name(cfg.data.name)
    if cfg.data.name_b is not None:
        data.check_name(cfg.data.name_b)
    ev.parse_metrics(cfg.eval.metrics)
    if cfg.eval.extractor is not None:
        ev.EXTRACTORS.validate(cfg.eval.extractor, "eval.extractor")
    if cfg.eval.best is not None and cfg.eval.best not in ev.SCORE_DIRECTION:
        raise GankitError(f"eval.best: unknown score {cfg.eval.best!r}; allowed: "
                          + ", ".join(ev.SCORE_DIRECTION))


def check_arch(cfg: Config) -> None:
    """Switches an architecture cannot honour, naming both keys."""
    m = cfg.model
    if m.g_upsample != "deconv" and m.arch != "dcgan":
        raise GankitError(f"model.g_upsample={m.g_upsample} sets how the dcgan G upsamples; "
                          f"model.arch is {m.arch} (resnet G already upsamples by nearest + "
                          "conv 3x3): set model.arch=dcgan or leave model.g_upsample=deconv")
    if m.arch not in CONV_ARCHS:
        if m.attn_res is not None:
            raise GankitError(f"model.attn_res={m.attn_res} needs a conv architecture "
                              f"({', '.join(CONV_ARCHS)}); model.arch is {m.arch}")
        if m.family == "conditional" and m.g_cond == "cbn":
            raise GankitError(f"model.g_cond=cbn needs a conv architecture with batch norm in G "
                              f"({', '.join(CONV_ARCHS)}); model.arch is {m.arch}: use "
                              "model.g_cond=embed")
    for key, used, family in [("reg.ms_weight", cfg.reg.ms_weight > 0, "conditional"),
                              ("data.clusters", cfg.data.clusters > 0, "conditional"),
                              ("model.d_cond=acgan", m.d_cond == "acgan", "conditional"),
                              ("model.g_cond=cbn", m.g_cond == "cbn", "conditional"),
                              ("reg.cycle_weight", cfg.reg.cycle_weight > 0, "bigan|cyclegan"),
                              ("data.pairs", cfg.data.pairs != "none", "image2image"),
                              ("data.name_b", cfg.data.name_b is not None, "cyclegan"),
                              ("reg.fm_weight", cfg.reg.fm_weight > 0, "superres"),
                              ("model.upsampler", m.upsampler != "srgan", "superres"),
                              ("model.g_downs", m.g_downs is not None, "cyclegan"),
                              ("model.motion", m.motion != "input", "sequence"),
                              ("train.pretrain_steps", cfg.train.pretrain_steps > 0,
                               "image2image|superres")]:
        if used and m.family not in family.split("|"):
            raise GankitError(f"{key} is for model.family={family}; model.family is {m.family}")
    if m.sprites != 1 and m.motion != "translate":
        raise GankitError(f"model.sprites={m.sprites} shifts each layer on its own: it needs "
                          f"model.motion=translate; model.motion is {m.motion}")
    if m.sprite_snap and m.motion != "translate":
        raise GankitError("model.sprite_snap=true moves sprites by whole pixels: it needs "
                          f"model.motion=translate; model.motion is {m.motion}")
    if m.sprite_res is not None and m.motion != "translate":
        raise GankitError(f"model.sprite_res={m.sprite_res} sets the size of the sprites that "
                          f"the motion moves: it needs model.motion=translate; model.motion is "
                          f"{m.motion}")
    if not cfg.reg.cls_fake and m.d_cond != "acgan":
        raise GankitError("reg.cls_fake=false trains ACGAN's class head on real images only: it "
                          f"needs model.d_cond=acgan; model.d_cond is {m.d_cond}")
    if m.prefill and cfg.data.pairs != "inpaint":
        raise GankitError(f"model.prefill=true pre-fills inpainting holes: it needs "
                          f"data.pairs=inpaint (model.family=image2image); data.pairs is "
                          f"{cfg.data.pairs}")
    from gankit.families import FAMILIES

    if m.d_frames != 1 and m.family != "sequence":
        raise GankitError(f"model.d_frames={m.d_frames} is for model.family=sequence; "
                          f"model.family is {m.family}")
    if m.pack > 1 and not FAMILIES.get(m.family).packable:
        raise GankitError(f"model.pack={m.pack} with model.family={m.family}: a pack has one D "
                          "score, but this family's D scores each sample with its own class, "
                          "code, latent or frames; PacGAN works with model.family=unconditional")
    if m.pack > 1 and cfg.reg.gp_lambda > 0:
        raise GankitError(f"model.pack={m.pack} with reg.gp_lambda > 0: the gradient penalty "
                          "is per sample, a packed D's Lipschitz constant is per pack; use "
                          "reg.r1_gamma or model.d_sn")
    if m.family == "bigan" and m.cat_codes:
        raise GankitError("model.cat_codes with model.family=bigan: the encoder cannot give "
                          "one-hot codes, so D would tell the pairs apart by them; use "
                          "model.cat_codes=[] (or model.family=infogan)")
    if m.family == "bigan" and cfg.reg.gp_lambda > 0:
        raise GankitError("reg.gp_lambda > 0 with model.family=bigan: the gradient penalty "
                          "interpolates images only, not (x, z) pairs; use reg.r1_gamma")


def check_aug(cfg: Config) -> None:
    """Augmentation names: DiffAugment policies and ADA pipe letters."""
    from gankit import augment

    if cfg.aug.kind == "diffaug":
        augment.parse_policy(cfg.aug.policy)
    if cfg.aug.kind == "ada":
        augment.parse_pipe(cfg.aug.pipe)
        if cfg.loss not in ADA_LOSSES:
            raise GankitError(f"aug.kind=ada with loss={cfg.loss}: ADA steers p by the sign of "
                              "D's logits on reals, which is D's decision only for "
                              f"{', '.join(ADA_LOSSES)}; use one of those or aug.kind=diffaug")


def check(cfg: Config) -> Config:
    """All start-up checks that need gankit's registries; returns `cfg`."""
    check_names(cfg)
    check_arch(cfg)
    check_aug(cfg)
    return cfg
