"""Typed configuration: one dataclass per section, a strict loader and `key=value` overrides.

Follows nanoGPT's lesson (config that rejects unknown keys) without its `exec`: a YAML
preset or file gives a nested dict, `a.b=value` overrides edit that dict, and `from_dict`
builds the dataclasses, failing on any unknown key or wrong type with a message that names
the key and the allowed values.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from gankit.errors import GankitError

Precision = Literal["fp32", "bf16", "fp16", "auto"]
MAX_SEED = 2**32 - 1  # largest seed (config and CLI); seeds derived from it stay in 64 bits


@dataclass
class DataConfig:
    name: str = "mnist5k"  # built-in name (see `gankit list`), folder:PATH, npz:PATH or
    #                        pairs:A_DIR,B_DIR (aligned pairs matched by file name: A -> B)
    name_b: str | None = None  # cyclegan: the second image domain (built-in, folder:, npz:)
    resolution: int | None = None  # output height = width in px; None = the data set's own
    channels: int | None = None  # 1 (grey) or 3 (RGB); None = the data set's own
    skip_bad: bool = False  # skip (and count) unreadable images instead of stopping
    cache_dir: str | None = None  # decoded-folder cache; None = $GANKIT_CACHE or ~/.cache/gankit
    holdout: int = 0  # withhold N samples (a fixed random subset) from training; 0 = train on all
    limit: int = 0  # train on a fixed random subset of N samples (small-data studies); 0 = all
    clusters: int = 0  # self-conditioning (Liu et al. 2020): label the training images by K
    #                    k-means clusters of their pixels (any labels ignored); 0 = off
    crop_pad: int = 0  # random crop after zero-padding each side by N px (data augmentation); 0 = off
    flip: bool = False  # random horizontal flip (data augmentation)
    allow_flip: bool = False  # flip even a data set that says flipping is wrong (digits)
    frames: int = 16  # frames per clip of sequence data (moving-mnist)
    crops: bool = False  # folder: train on random data.resolution-px crops of the full-size
    #                      images (a few large photos) instead of one resized square each
    pairs: Literal["none", "inpaint", "grey", "blur", "downscale"] = "none"  # image2image:
    #      G's input made on the fly from each image (none: the data are pairs:A_DIR,B_DIR)
    masks: Literal["rect", "stroke", "mixed"] = "mixed"  # inpainting holes while training:
    #      rectangles, free-form brush strokes, or half of each
    degrade_blur: float = 0.0  # superres: Gaussian blur of sigma U[0, this] (HR px) before
    #                            the bicubic downscale; 0 = clean bicubic pairs
    degrade_noise: float = 0.0  # superres: Gaussian noise of std U[0, this] (of the [0, 1]
    #                             range) on the low-res input; 0 = none


@dataclass
class ModelConfig:
    family: str = "unconditional"  # GAN family: unconditional | conditional | infogan | bigan
    #               | sequence (MoCoGAN clips) | image2image (pix2pix) | superres (SRGAN)
    #               | cyclegan (unpaired translation)
    arch: str = "dcgan"  # network family for G and D: mlp | dcgan | resnet (the image-to-image
    #                      families build their own: U-Net, SRResNet, ResNet translator, PatchGAN)
    z_dim: int = 100  # continuous noise dimensions of the latent
    prior: str = "normal"  # noise prior: normal (N(0, I)) | uniform (U[-1, 1])
    cat_codes: tuple[int, ...] = ()  # one-hot blocks joined to the noise (discrete prior /
    #                                  InfoGAN categorical codes), e.g. [10]; [] = none
    cont_codes: int = 0  # InfoGAN continuous codes ~ U[-1, 1]; 0 = none
    g_width: int = 64  # G hidden units (mlp) or base channels (dcgan, resnet)
    d_width: int = 64  # D hidden units (mlp) or base channels (dcgan, resnet)
    depth: int = 3  # hidden layers of the mlp family; conv depth follows the resolution
    d_norm: Literal["batch", "instance", "none"] = "batch"  # normalisation in D (none for
    #                    WGAN-GP / R1 / SN; instance: PatchGAN Ds of the image-to-image families)
    g_cond: Literal["embed", "cbn"] = "embed"  # conditional G: class embedding joined to z, or
    #                  conditional batch norm (conv nets; learns the class slowly in short runs)
    d_cond: Literal["projection", "acgan"] = "projection"  # conditional D: projection (Miyato &
    #                  Koyama 2018) or an auxiliary classifier head (ACGAN, Odena et al. 2017)
    attn_res: int | None = None  # SAGAN self-attention at this feature resolution in G and D
    g_upsample: Literal["deconv", "resize"] = "deconv"  # dcgan G's 2x steps: ConvT 4x4 stride 2
    #                  (DCGAN), or nearest upsample + conv 3x3 (no checkerboard; Odena et al. 2016)
    d_sn: bool = False  # spectral normalisation of D's layers (Miyato et al. 2018)
    g_sn: bool = False  # spectral normalisation of G's layers too (SAGAN, BigGAN)
    pack: int = 1  # PacGAN (Lin et al. 2018): D judges this many samples at once; 1 = off
    mbstd: int = 0  # minibatch-stddev layer at the end of D (ProGAN), group size; 0 = off
    motion_dim: int = 10  # sequence family: motion latent per frame (MoCoGAN's GRU output)
    d_frames: int = 1  # sequence family: frames of each clip the image D judges (MoCoGAN: 1)
    motion: Literal["input", "translate"] = "input"  # sequence family: the motion latent is an
    #      input of the frame G (MoCoGAN), or moves what G draws from the content alone (a shift
    #      per frame and sprite: the object cannot change shape as it moves)
    sprites: int = 1  # sequence family, motion=translate: layers, each shifted on its own and
    #                   composited by the maximum (moving-mnist2: 2)
    sprite_res: int | None = None  # sequence family, motion=translate: the frame G draws each
    #                                sprite at this size and it is pasted onto a black canvas
    #                                of the data's; None = the frame's size
    sprite_snap: bool = False  # sequence family, motion=translate: sprites move by whole
    #                            pixels (Moving MNIST pastes its digits so; a fractional move
    #                            blurs the drawing differently in each frame)
    scale: int = 4  # superres: the scale factor of the model (2, 3 or 4)
    g_downs: int | None = None  # cyclegan translators' stride-2 downsamplings (each doubles
    #                             G's reach); None = 2 from 64 px, else 1
    blocks: int = 8  # residual blocks of the superres G (SRGAN: 16) and the cyclegan G (6-9)
    upsampler: Literal["srgan", "espcn"] = "srgan"  # superres G: SRGAN's sub-pixel stages and
    #                        9x9 output conv, or ESPCN's one conv + PixelShuffle (cheaper at x4)
    dropout: float = 0.5  # image2image: dropout in the U-Net decoder, pix2pix's noise; 0 = off
    prefill: bool = False  # inpainting: G starts from a smooth (harmonic) fill of the holes
    #                        and learns what to add to it; false = holes given as mid-grey
    d_layers: int | None = None  # PatchGAN D's stride-2 layers; None = by resolution (70x70
    #                              receptive field at 256 px, as pix2pix)


@dataclass
class RegConfig:
    r1_gamma: float = 0.0  # R1 penalty (gamma/2)*|grad_x D(x)|^2 on reals; 0 disables
    r1_every: int = 1  # lazy R1 (StyleGAN2): apply it every N D updates with weight gamma*N
    gp_lambda: float = 0.0  # WGAN-GP penalty lambda*(|grad D(x_hat)| - 1)^2; 0 disables
    clip_d: float = 0.0  # WGAN weight clipping: clamp D's weights to [-c, c] each D step; 0 disables
    cls_weight: float = 1.0  # ACGAN: weight of the class cross-entropy in D's and G's loss
    cls_fake: bool = True  # ACGAN: D's classifier also learns G's labels for its fakes (Odena
    #                        et al. 2017); false = real images only, so G's mistakes are never
    #                        taught to it (against the bias analysed by Shu et al. 2017)
    ms_weight: float = 0.0  # conditional: MSGAN mode-seeking term against one image per class
    #                         (Mao et al. 2019, weight 1 in the paper); 0 disables
    info_weight: float = 1.0  # InfoGAN lambda_info: weight of the mutual-information term
    info_cont_weight: float = 1.0  # InfoGAN: the continuous codes' NLL relative to the
    #                                categorical CE (the paper uses a smaller lambda for them)
    cycle_weight: float = 0.0  # BiGAN: ALICE's explicit cycle terms |x - G(E(x))|^2 and
    #                            |z - E(G(z))|^2 in G/E's loss (Li et al. 2017); 0 = plain BiGAN;
    #                            cyclegan: lambda of the cycle-consistency L1 (Zhu et al.: 10)
    l1_weight: float = 100.0  # image2image/superres: weight of the L1 (content) term between
    #                           G's output and the target (pix2pix: 100); 0 disables
    content: Literal["l1", "mse"] = "l1"  # superres: content loss (SRResNet used MSE)
    adv_weight: float = 1.0  # image2image/superres/cyclegan: weight of G's adversarial term
    #                          (SRGAN: 1e-3 against its content loss); 0 = content only
    fm_weight: float = 0.0  # superres: D feature matching (L1 between D's features of the
    #                         output and of the target) as the perceptual term; 0 disables
    identity_weight: float = 0.5  # cyclegan: identity loss |G(b) - b|, x reg.cycle_weight
    #                               (Zhu et al. 2017: 0.5); 0 disables
    pool_size: int = 50  # cyclegan: past fakes D sees (Shrivastava et al. 2017); 0 = current
    pl_weight: float = 0.0  # path-length penalty of G (StyleGAN2 uses 2); 0 disables
    pl_every: int = 4  # lazy path length: every N G steps with weight pl_weight*N
    d_wd: float = 0.0  # coupled L2 weight decay beta*|theta_D|^2 added to D's loss; 0 disables
    g_wd: float = 0.0  # coupled L2 weight decay beta*|theta_G|^2 added to G's loss; 0 disables
    d_clip_grad: float = 0.0  # clip D's gradient to this global L2 norm; 0 disables
    g_clip_grad: float = 0.0  # clip G's gradient to this global L2 norm; 0 disables


@dataclass
class AugConfig:
    kind: Literal["none", "diffaug", "ada"] = "none"  # augmentation of every image D sees
    #          (real and fake, differentiable so gradients reach G): DiffAugment or ADA
    policy: str = "color,translation,cutout"  # DiffAugment policies (Zhao et al. 2020)
    pipe: str = "bgc"  # ADA pipeline: b (blit: flip, rot90, int translation), g (geometric:
    #                    scale, rotation, aniso, fractional translation), c (colour)
    p: float = 0.0  # ADA's starting augmentation probability (fixed when target is 0)
    target: float = 0.6  # ADA's target r_t for E[sign(D(real))]; 0 = keep p fixed
    interval: int = 4  # ADA adjusts p every N D updates
    kimg: float = 500.0  # ADA: p can move from 0 to 1 in this many thousand real images


@dataclass
class OptimConfig:
    g_lr: float = 2e-4  # Adam learning rate of G
    d_lr: float = 2e-4  # Adam learning rate of D
    g_betas: tuple[float, float] = (0.5, 0.999)  # Adam betas of G
    d_betas: tuple[float, float] = (0.5, 0.999)  # Adam betas of D
    n_critic: int = 1  # D steps per G step
    lr_decay: Literal["none", "linear"] = "none"  # linear: both lrs fall linearly to 0 at train.steps


@dataclass
class TrainConfig:
    steps: int = 2000  # G steps to train for (the run's length)
    batch_size: int = 64  # images per step on each rank
    ema_beta: float = 0.999  # per-step decay of the EMA of G's weights; 0 disables (EMA = G)
    ema_rampup: float | None = 0.05  # EMA half-life <= this x steps done (StyleGAN2); 0/null: off
    precision: Precision = "fp32"  # fp32 | bf16 (autocast) | fp16 (GPU) | auto (bf16 if native)
    channels_last: bool = True  # NHWC memory format for conv nets (faster with oneDNN; false = NCHW)
    log_every: int = 50  # steps between log lines (jsonl, TensorBoard, progress bar)
    sample_every: int = 500  # steps between sample grids; 0 disables
    ckpt_every: int = 500  # steps between checkpoints (one is always written at the end)
    n_samples: int = 64  # images in each sample grid (fixed latent batch)
    tensorboard: bool = True  # write TensorBoard scalars to RUN/tb
    progress: bool = True  # show a progress bar (only on a terminal)
    threads: int | None = None  # torch CPU threads; None = torch's default
    sync_bn: bool = False  # synchronise batch norm across ranks (CUDA DDP only)
    eval_every: int = 0  # steps between evaluations of the EMA generator (see eval.*); 0 disables
    pretrain_steps: int = 0  # superres/image2image: content-only steps before the adversarial
    #                          phase (SRResNet); that model is kept as checkpoints/content.pt


@dataclass
class EvalConfig:
    metrics: str = "fid,kid,pr,dc,modes"  # comma-separated: fid, kid, is, pr, dc, modes
    n: int = 5000  # generated samples per evaluation; real: at most the data set's size
    extractor: str | None = None  # lenet-mnist | lenet-digits | lenet-stacked | inception | raw;
    #                               None = the data set's default
    inception_weights: str | None = None  # pt_inception-2015-12-05-6726825d.pth; None = $GANKIT_INCEPTION_WEIGHTS
    protocol: Literal["tf", "pytorch-fid"] = "tf"  # Inception input: tf (as published FIDs) | pytorch-fid
    batch_size: int = 500  # images per generator/extractor batch
    kid_subsets: int = 100  # KID subsets (torch-fidelity's default)
    kid_subset_size: int = 1000  # samples per KID subset (capped by the sample counts)
    best: str | None = None  # score that picks checkpoints/best.pt (fid, kid, hq, ...); None = the first
    seed: int = 0  # seeds the latents and the real subset of every evaluation


@dataclass
class HealthConfig:
    every: int | None = None  # steps between health checks; None = 5 x train.log_every; 0 = off
    action: Literal["warn", "stop", "recover"] = "warn"  # on a diagnosis: warn and go on, stop,
    #                   or roll back to the last healthy checkpoint with lower learning rates
    patience: int = 3  # K: a condition must hold for K checks in a row (NaN/Inf: at once)
    n: int = 256  # fixed EMA samples (and real samples) each check measures
    warmup: int = 1000  # steps before collapse, D and FID diagnoses (early samples all look alike)
    min_diversity: float = 0.5  # collapse: samples' mean pairwise feature distance below this
    #                             share of the real data's
    max_duplicates: float = 0.5  # collapse: share of samples with a near-duplicate above this
    min_classes: float = 0.5  # collapse: classes (modes) hit below this share of the real ones
    max_spread: float = 4.0  # divergence: samples' mean pairwise distance above this x real's
    d_acc_max: float = 0.99  # D overpowers G: D's accuracy on real and fake at or above this
    grad_factor: float = 100.0  # exploding gradients: a norm above this x its running median
    fid_rise: float = 0.5  # quality falling: the FID proxy rising K checks and this share above its best
    lr_factor: float = 0.5  # recover: per rollback, D's learning rate x this (collapse, D
    #                         overpowering G) or both (divergence, falling FID proxy)
    r1_gamma: float | None = None  # recover: a run without R1/GP/clipping gets R1 with this
    #      gamma from its first rollback on; None = 1 for images, 0.1 for points (the values
    #      of the dcgan-mnist and mlp-grid25 presets); 0 = only lower the learning rates
    max_rollbacks: int = 3  # recover: give up (stop with a report) after this many rollbacks
    keep: int = 3  # checkpoints kept besides last.pt (checkpoints/step-N.pt) for rollbacks


@dataclass
class Config:
    seed: int = 0  # seeds weights, latents and data order
    device: str = "auto"  # auto (cuda if present, else cpu) | cpu | cuda | cuda:N
    loss: str = "ns"  # adversarial loss: minimax | ns | lsgan | wgan | hinge
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    reg: RegConfig = field(default_factory=RegConfig)
    aug: AugConfig = field(default_factory=AugConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    health: HealthConfig = field(default_factory=HealthConfig)


# ---------------------------------------------------------------- building and checking


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " | ".join(str(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against the annotation `tp`; return it converted (int -> float, list -> tuple)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except GankitError:
                pass
        allowed = " or ".join(_type_name(a) for a in args)
        raise GankitError(f"{key}: expected {allowed}, got {value!r}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise GankitError(f"{key}: {value!r} is not allowed; choose one of: "
                              + ", ".join(str(a) for a in allowed))
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[int, ...]: any length
            if not isinstance(value, (list, tuple)):
                raise GankitError(f"{key}: expected a list, got {value!r}")
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise GankitError(f"{key}: expected a list of {len(args)} numbers, got {value!r}")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise GankitError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise GankitError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise GankitError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise GankitError(f"{key}: expected a string, got {value!r}")
        return value
    raise AssertionError(f"unsupported config type {tp} at {key}")


def from_dict(cls: type, data: Any, prefix: str = "") -> Any:
    """Build dataclass `cls` from a nested dict, rejecting unknown keys and wrong types."""
    where = prefix.rstrip(".") or "config"
    if not isinstance(data, dict):
        raise GankitError(f"{where}: expected a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise GankitError(f"unknown config key {prefix}{unknown[0]!s}; allowed keys in {where}: "
                          + ", ".join(names))
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = from_dict(tp, data[name], f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(data[name], tp, f"{prefix}{name}")
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict:
    """Plain nested dict (tuples as lists) for YAML and checkpoints."""
    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(dataclasses.asdict(cfg))


def _positive(key: str, value: float | None, allow_zero: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value):
        raise GankitError(f"{key}: must be a finite number, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise GankitError(f"{key}: must be {need}, got {value}")


def health_every(cfg: Config) -> int:
    """Steps between health checks (0 = off): checks read the log's means, so they fall on
    log steps."""
    every = cfg.health.every
    return 5 * cfg.train.log_every if every is None else every


def _validate_health(cfg: Config) -> None:
    h = cfg.health
    _positive("health.every", h.every, allow_zero=True)
    every = health_every(cfg)
    if every and every % cfg.train.log_every:
        raise GankitError(f"health.every={every}: must be a multiple of train.log_every="
                          f"{cfg.train.log_every} (checks read the logged means), or 0 for off")
    for key, val in [("health.patience", h.patience), ("health.n", h.n),
                     ("health.max_rollbacks", h.max_rollbacks)]:
        _positive(key, val)
    _positive("health.keep", h.keep, allow_zero=True)
    if not 16 <= h.n <= 4096:
        raise GankitError(f"health.n: the diversity statistics need 16..4096 samples (all "
                          f"pairs are compared), got {h.n}")
    if h.action == "recover" and h.keep == 0:
        raise GankitError("health.action=recover rolls back to kept checkpoints: give "
                          "health.keep >= 1")
    _positive("health.warmup", h.warmup, allow_zero=True)
    for key, val in [("health.min_diversity", h.min_diversity),
                     ("health.max_duplicates", h.max_duplicates),
                     ("health.min_classes", h.min_classes), ("health.d_acc_max", h.d_acc_max)]:
        if not 0.0 <= val <= 1.0:
            raise GankitError(f"{key}: must be in [0, 1], got {val}")
    if not 0.0 < h.lr_factor < 1.0:
        raise GankitError(f"health.lr_factor: must be in (0, 1), got {h.lr_factor}")
    _positive("health.r1_gamma", h.r1_gamma, allow_zero=True)
    for key, val in [("health.grad_factor", h.grad_factor), ("health.fid_rise", h.fid_rise),
                     ("health.max_spread", h.max_spread)]:
        if not (val > 0 and math.isfinite(val)):
            raise GankitError(f"{key}: must be a finite number > 0, got {val}")


def validate(cfg: Config) -> Config:
    """Check value ranges and combinations of values. Names that map to code (data set,
    architecture, loss, family, metrics) are checked where they are used: gankit.checks."""
    for key, seed in [("seed", cfg.seed), ("eval.seed", cfg.eval.seed)]:
        if not 0 <= seed <= MAX_SEED:  # derived seeds (seed * 1000 + rank, ...) must fit 64 bits
            raise GankitError(f"{key}: must be an integer in 0..{MAX_SEED}, got {seed}")
    if cfg.data.channels not in (None, 1, 3):
        raise GankitError(f"data.channels: must be 1, 3 or null, got {cfg.data.channels}")
    for key, val in [("data.resolution", cfg.data.resolution), ("model.z_dim", cfg.model.z_dim),
                     ("model.g_width", cfg.model.g_width), ("model.d_width", cfg.model.d_width),
                     ("model.depth", cfg.model.depth), ("optim.g_lr", cfg.optim.g_lr),
                     ("optim.d_lr", cfg.optim.d_lr), ("optim.n_critic", cfg.optim.n_critic),
                     ("reg.r1_every", cfg.reg.r1_every), ("reg.pl_every", cfg.reg.pl_every),
                     ("train.steps", cfg.train.steps), ("train.batch_size", cfg.train.batch_size),
                     ("train.log_every", cfg.train.log_every),
                     ("train.ckpt_every", cfg.train.ckpt_every),
                     ("train.n_samples", cfg.train.n_samples), ("train.threads", cfg.train.threads)]:
        _positive(key, val)
    if cfg.data.clusters == 1 or cfg.data.clusters < 0:
        raise GankitError(f"data.clusters: must be 0 (off) or >= 2, got {cfg.data.clusters}")
    for key, val in [("data.holdout", cfg.data.holdout), ("data.limit", cfg.data.limit),
                     ("data.crop_pad", cfg.data.crop_pad), ("model.mbstd", cfg.model.mbstd)]:
        _positive(key, val, allow_zero=True)
    for key, val in [("model.pack", cfg.model.pack), ("model.motion_dim", cfg.model.motion_dim),
                     ("model.d_frames", cfg.model.d_frames), ("model.sprites", cfg.model.sprites),
                     ("aug.interval", cfg.aug.interval), ("aug.kimg", cfg.aug.kimg)]:
        _positive(key, val)
    if cfg.model.scale not in (2, 3, 4):
        raise GankitError(f"model.scale: must be 2, 3 or 4, got {cfg.model.scale}")
    if not 0.0 <= cfg.model.dropout < 1.0:
        raise GankitError(f"model.dropout: must be in [0, 1), got {cfg.model.dropout}")
    if cfg.model.d_layers is not None and not 1 <= cfg.model.d_layers <= 6:
        raise GankitError(f"model.d_layers: must be 1..6 or null, got {cfg.model.d_layers}")
    _positive("model.blocks", cfg.model.blocks, allow_zero=True)
    if cfg.model.g_downs is not None and not 0 <= cfg.model.g_downs <= 4:
        raise GankitError(f"model.g_downs: must be 0..4 or null, got {cfg.model.g_downs}")
    if cfg.data.frames < 2:
        raise GankitError(f"data.frames: a clip needs >= 2 frames, got {cfg.data.frames}")
    for key, val in [("aug.p", cfg.aug.p), ("aug.target", cfg.aug.target)]:
        if not 0.0 <= val <= 1.0:
            raise GankitError(f"{key}: must be in [0, 1], got {val}")
    if cfg.model.mbstd == 1:
        raise GankitError("model.mbstd: a group of 1 sample has no spread; use >= 2 (ProGAN: "
                          "4) or 0 to turn the layer off")
    b, pack, mbstd = cfg.train.batch_size, cfg.model.pack, cfg.model.mbstd
    if pack > 1 and b % pack:
        raise GankitError(f"model.pack={pack} must divide train.batch_size={b}")
    if mbstd > 1 and (b // pack) % min(mbstd, b // pack):
        packs = f" // model.pack={pack}" if pack > 1 else ""
        raise GankitError(f"model.mbstd={mbstd} must divide the {b // pack} inputs D sees per "
                          f"batch (train.batch_size={b}{packs})")
    _validate_health(cfg)
    for key, val in [("eval.n", cfg.eval.n), ("eval.batch_size", cfg.eval.batch_size),
                     ("eval.kid_subsets", cfg.eval.kid_subsets),
                     ("eval.kid_subset_size", cfg.eval.kid_subset_size)]:
        _positive(key, val)
    for key, val in [("reg.r1_gamma", cfg.reg.r1_gamma), ("reg.gp_lambda", cfg.reg.gp_lambda),
                     ("reg.cls_weight", cfg.reg.cls_weight), ("reg.ms_weight", cfg.reg.ms_weight), ("reg.info_weight", cfg.reg.info_weight),
                     ("reg.info_cont_weight", cfg.reg.info_cont_weight),
                     ("reg.cycle_weight", cfg.reg.cycle_weight),
                     ("reg.pl_weight", cfg.reg.pl_weight), ("reg.d_wd", cfg.reg.d_wd),
                     ("reg.l1_weight", cfg.reg.l1_weight), ("reg.adv_weight", cfg.reg.adv_weight),
                     ("reg.fm_weight", cfg.reg.fm_weight), ("reg.pool_size", cfg.reg.pool_size),
                     ("reg.identity_weight", cfg.reg.identity_weight),
                     ("data.degrade_blur", cfg.data.degrade_blur),
                     ("data.degrade_noise", cfg.data.degrade_noise),
                     ("train.pretrain_steps", cfg.train.pretrain_steps),
                     ("reg.g_wd", cfg.reg.g_wd), ("reg.d_clip_grad", cfg.reg.d_clip_grad),
                     ("reg.g_clip_grad", cfg.reg.g_clip_grad), ("model.cont_codes", cfg.model.cont_codes),
                     ("train.sample_every", cfg.train.sample_every),
                     ("train.eval_every", cfg.train.eval_every)]:
        _positive(key, val, allow_zero=True)
    _check_lipschitz(cfg)
    if cfg.train.ema_rampup is not None:
        _positive("train.ema_rampup", cfg.train.ema_rampup, allow_zero=True)
    if not 0.0 <= cfg.train.ema_beta < 1.0:
        raise GankitError(f"train.ema_beta: must be in [0, 1), got {cfg.train.ema_beta}")
    for key, betas in [("optim.g_betas", cfg.optim.g_betas), ("optim.d_betas", cfg.optim.d_betas)]:
        if not all(0.0 <= b < 1.0 for b in betas):
            raise GankitError(f"{key}: each beta must be in [0, 1), got {list(betas)}")
    if not (cfg.device in ("auto", "cpu", "cuda") or cfg.device.startswith("cuda:")):
        raise GankitError(f"device: {cfg.device!r} is not allowed; choose auto, cpu, cuda or cuda:N")
    return cfg


def _check_lipschitz(cfg: Config) -> None:
    """Refuse combinations the papers warn against, naming the keys involved."""
    _positive("reg.clip_d", cfg.reg.clip_d, allow_zero=True)
    if (cfg.loss == "wgan" and cfg.reg.gp_lambda == 0 and cfg.reg.clip_d == 0
            and not cfg.model.d_sn):
        raise GankitError("loss=wgan needs a Lipschitz constraint on D, or its critic grows "
                          "without bound: set reg.gp_lambda (WGAN-GP, e.g. 10), reg.clip_d "
                          "(weight clipping, e.g. 0.01) or model.d_sn=true (spectral norm)")
    if cfg.reg.clip_d > 0 and cfg.model.d_sn:
        raise GankitError("reg.clip_d > 0 with model.d_sn=true: weight clipping and spectral "
                          "normalisation both bound D's Lipschitz constant and fight each other; "
                          "keep one")
    if any(k < 2 for k in cfg.model.cat_codes):
        raise GankitError(f"model.cat_codes: every categorical code needs >= 2 values, got "
                          f"{list(cfg.model.cat_codes)}")
    if cfg.reg.gp_lambda > 0 and cfg.model.d_norm == "batch" and cfg.model.arch == "dcgan":
        raise GankitError("reg.gp_lambda > 0 with model.d_norm=batch: the gradient penalty is "
                          "per sample and batch norm mixes the samples of a batch (Gulrajani "
                          "et al. 2017, sec. 4); set model.d_norm=none")


# ---------------------------------------------------------------- presets and overrides


def preset_names() -> list[str]:
    files = resources.files("gankit.presets").iterdir()
    return sorted(p.name[:-5] for p in files if p.name.endswith(".yaml"))


def load_yaml(source: str) -> dict:
    """A preset name or a path to a YAML file -> nested dict."""
    if source in preset_names():
        text = resources.files("gankit.presets").joinpath(f"{source}.yaml").read_text()
        where = f"preset {source}"
    else:
        path = Path(source)
        if not path.is_file():
            raise GankitError(f"{source!r} is neither a preset ({', '.join(preset_names())}) "
                              "nor a YAML file")
        text, where = path.read_text(), str(path)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise GankitError(f"{where}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise GankitError(f"{where}: expected a mapping at the top level")
    return data


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `a.b=value` strings (value parsed as YAML) to a nested dict, in order."""
    for item in overrides:
        if "=" not in item:
            raise GankitError(f"override {item!r} must look like key=value (e.g. train.steps=100)")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise GankitError(f"override {item!r}: {part} is not a section")
            node = child
        node[parts[-1]] = value
    return data


def build(source: str | dict | None = None, overrides: list[str] | None = None) -> Config:
    """Preset name, YAML path or dict, plus overrides -> a validated Config."""
    if source is None:
        data: dict = {}
    elif isinstance(source, dict):
        data = to_dict(from_dict(Config, source))  # normalise a user dict
    else:
        data = load_yaml(source)
    data = apply_overrides(data, list(overrides or []))
    return validate(from_dict(Config, data))


def dump(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
