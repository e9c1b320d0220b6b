"""Evaluation protocol: generated and real features, every requested metric, and the
real-vs-real floor, recorded with the protocol that produced them.

Features are streamed in batches: FID keeps only running float64 moments (memory does not
grow with n); KID, precision/recall and density/coverage keep the (n, d) features, whose
pairwise distances are computed block by block. Real features are cached on disk keyed by
the data's content, the extractor's identity (a hash of its weights, preprocessing and input
protocol; see features.py) and the sample indices.

The floor is each metric between two disjoint real samples of the size the user asked for
(n vs n, the first of them the real set the generator is scored against), so a user sees what
"perfect" scores at this sample size. When the data hold fewer than 2n images, the floor uses
the largest equal disjoint halves (len // 2 each) and says so in `protocol["floor"]`. 2-D
mixtures: n vs n independent exact samples.

`modes`: mode coverage on 2-D mixtures (modes.py); on Stacked MNIST the 1,000 modes hit and
KL(p_gen || uniform) from the `lenet-stacked` joint logits (stacked.py, PacGAN Table 3);
on other labelled images, the classes hit and KL against the real class histogram.

KID subsets and the Inception Score's shuffle are seeded with `eval.seed` (default 0), not
torch-fidelity's default rng_seed 2020.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from gankit.config import EvalConfig
from gankit.data.base import Dataset, MixtureData, TensorData, to_unit_range
from gankit.data.folder import cache_root
from gankit.errors import GankitError
from gankit.metrics.features import EXTRACTORS, Extractor, default_extractor, get_extractor
from gankit.metrics.fid import fid_from_stats
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kid
from gankit.metrics.modes import class_coverage, mode_coverage
from gankit.metrics.prdc import density_coverage, precision_recall
from gankit.metrics.stacked import STACKED_EXTRACTORS, count_modes
from gankit.metrics.stats import GaussianStats

__all__ = ["EXTRACTORS", "METRICS", "SCORE_DIRECTION", "EvalResult", "evaluate", "parse_metrics"]

METRICS = ("fid", "kid", "is", "pr", "dc", "modes")
# +1: higher is better, -1: lower is better (used to keep the best checkpoint)
SCORE_DIRECTION = {"fid": -1, "kid": -1, "is": 1, "precision": 1, "recall": 1, "density": 1,
                   "coverage": 1, "hq": 1, "modes": 1, "mode_kl": -1, "classes": 1,
                   "class_kl": -1}
CACHE_VERSION = 2  # 2: keyed by Extractor.identity (weights + protocol), not by name

# what torch.load / from_state_dict raise on a damaged or foreign cache file
_BAD_CACHE = (OSError, EOFError, RuntimeError, ValueError, KeyError, TypeError,
              pickle.UnpicklingError, GankitError)
Sampler = Callable[[int, int], torch.Tensor]  # (n, seed) -> samples in [-1, 1] / points


def parse_metrics(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise GankitError(f"eval.metrics: unknown metric {bad[0] if bad else text!r}; choose "
                          f"from: {', '.join(METRICS)} (comma-separated)")
    return names


@dataclass
class Features:
    """What one set of samples leaves after extraction."""

    stats: GaussianStats
    feats: torch.Tensor | None = None  # (n, d), kept unless only FID is needed
    logits: torch.Tensor | None = None  # (n, classes) when the extractor classifies
    points: torch.Tensor | None = None  # raw 2-D samples, for mode coverage

    @property
    def n(self) -> int:
        return self.stats.n


@dataclass
class EvalResult:
    scores: dict[str, float]  # flat: fid, kid, kid_std, is, precision, ..., hq, modes
    floor: dict[str, float]  # the same scores between two disjoint real samples
    protocol: dict = field(default_factory=dict)  # how: extractor, its input protocol, sizes, ...

    def to_dict(self) -> dict:
        return {"scores": self.scores, "real_vs_real_floor": self.floor, "protocol": self.protocol}


def extract(batches: Iterator[torch.Tensor], extractor: Extractor, keep: bool,
            keep_points: bool = False) -> Features:
    stats, feats, logits, points = GaussianStats(), [], [], []
    for x in batches:
        f, lg = extractor(x)
        stats.update(f)
        if keep:
            feats.append(f)
        if lg is not None:
            logits.append(lg)
        if keep_points:
            points.append(x.float().cpu())
    return Features(stats, torch.cat(feats) if feats else None,
                    torch.cat(logits) if logits else None, torch.cat(points) if points else None)


def _batches(x: torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    for chunk in x.split(batch_size):
        yield to_unit_range(chunk)


def _generated(sample: Sampler, n: int, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
    done, i = 0, 0
    while done < n:
        m = min(batch_size, n - done)
        yield sample(m, seed * 100003 + i)  # a distinct, reproducible stream per batch
        done, i = done + m, i + 1


def _data_key(data: TensorData) -> str:
    h = hashlib.sha256(f"{data.name}|{tuple(data.x.shape)}|{data.x.dtype}".encode())
    h.update(data.x.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def real_features(data: TensorData, extractor: Extractor, idx: torch.Tensor, batch_size: int,
                  keep: bool, cache: bool = True) -> Features:
    """Features of data.x[idx], from the on-disk cache when the same request was made before.

    The cache key is the data's content, `extractor.identity` and the indices; an extractor
    without an identity is never cached.
    """
    use_cache = cache and extractor.identity is not None
    key = hashlib.sha256(f"v{CACHE_VERSION}|{_data_key(data)}|{extractor.identity}|".encode()
                         + idx.numpy().tobytes()).hexdigest()[:32]
    path = cache_root(None) / "stats" / f"{key}.pt"
    if use_cache and path.is_file():
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            return Features(GaussianStats.from_state_dict(blob["stats"]), blob["feats"],
                            blob.get("logits"))
        except _BAD_CACHE:  # a damaged cache entry is recomputed, never trusted
            path.unlink(missing_ok=True)
    out = extract(_batches(data.x[idx], batch_size), extractor, keep=True)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"stats": out.stats.state_dict(), "feats": out.feats, "logits": out.logits},
                   tmp)
        tmp.replace(path)
    if not keep:
        out.feats = None
    return out


def _scores(metrics: list[str], real: Features, fake: Features, data: Dataset,
            cfg: EvalConfig) -> dict[str, float]:
    out: dict[str, float] = {}
    if "fid" in metrics:
        out["fid"] = fid_from_stats(real.stats, fake.stats)
    if "kid" in metrics:
        r = kid(real.feats, fake.feats, subsets=cfg.kid_subsets, subset_size=cfg.kid_subset_size,
                seed=cfg.seed)
        out.update(kid=r.mean, kid_std=r.std, kid_subset_size=float(r.subset_size))
    if "is" in metrics:
        if fake.logits is None:
            raise GankitError("the Inception Score needs an extractor with class logits "
                              "(lenet-mnist, lenet-digits, inception)")
        r = inception_score(fake.logits, splits=10, seed=cfg.seed)
        out.update({"is": r.mean, "is_std": r.std})
    if "pr" in metrics:
        out.update(precision_recall(real.feats, fake.feats, k=3).to_dict())
    if "dc" in metrics:
        out.update(density_coverage(real.feats, fake.feats, k=5).to_dict())
    if "modes" in metrics:
        out.update(_modes(real, fake, data))
    return out


def _modes(real: Features, fake: Features, data: Dataset) -> dict[str, float]:
    if isinstance(data, MixtureData):
        r = mode_coverage(fake.points, data.centers, data.std)
        return {"modes": float(r.modes_covered), "num_modes": float(r.num_modes),
                "hq": r.high_quality_fraction, "mode_kl": r.kl_to_uniform}
    if data.name in STACKED_EXTRACTORS:
        return _stacked_modes(fake, data)
    if fake.logits is None or real.logits is None or data.num_classes == 0:
        raise GankitError("the modes metric needs 2-D mixture data, or labelled images and an "
                          "extractor with class logits")
    ref = torch.bincount(real.logits.argmax(1), minlength=data.num_classes).double()
    r = class_coverage(fake.logits.argmax(1), data.num_classes, reference_hist=ref)
    return {"classes": float(r.classes_covered), "num_classes": float(r.num_classes),
            "class_kl": r.kl}


def _stacked_modes(fake: Features, data: TensorData) -> dict[str, float]:
    """Stacked MNIST (stacked.py, PacGAN Table 3): modes hit and KL(p_gen || uniform)."""
    want = STACKED_EXTRACTORS[data.name]
    if fake.logits is None or fake.logits.shape[1] != data.num_classes:
        raise GankitError(f"the modes metric on {data.name} classifies each channel: use the "
                          f"{want} extractor (eval.extractor={want} or unset)")
    r = count_modes(fake.logits.argmax(1), data.num_classes)
    return {"modes": float(r.modes), "num_modes": float(r.num_modes), "mode_kl": r.kl}


def _real_and_floor(data: TensorData, extractor: Extractor, cfg: EvalConfig, keep: bool,
                    floor: bool, gen: torch.Generator) -> tuple[Features, tuple, dict]:
    """Real features for the scores and, if `floor`, two disjoint real samples for the floor:
    n vs n when the data hold 2n images (the first is the scored real set), else the largest
    equal halves."""
    perm = torch.randperm(len(data), generator=gen)
    n_real = min(cfg.n, len(data))
    real = real_features(data, extractor, perm[:n_real], cfg.batch_size, keep)
    info: dict = {"n_real": n_real, "real_split": "all images (seeded subset)"}
    if not floor:
        return real, (), {**info, "floor": "not computed", "floor_n": None}
    m = cfg.n if len(data) >= 2 * cfg.n else len(data) // 2
    a = real if m == n_real else real_features(data, extractor, perm[:m], cfg.batch_size, keep)
    b = real_features(data, extractor, perm[m:2 * m], cfg.batch_size, keep)
    text = f"{m} vs {m} disjoint real samples"
    if m < cfg.n:
        text += (f" (the data hold {len(data)} images, fewer than 2 x {cfg.n}: the largest "
                 "equal disjoint halves)")
    return real, (a, b), {**info, "floor": text, "floor_n": m}


def evaluate(sample: Sampler, data: Dataset, cfg: EvalConfig, device: str = "cpu",
             extractor: Extractor | None = None, floor: bool = True) -> EvalResult:
    """Score `sample(n, seed)` against `data` with the metrics named in `cfg.metrics`."""
    metrics = parse_metrics(cfg.metrics)
    if extractor is None:
        name = cfg.extractor or default_extractor(data.name, tuple(data.shape))
        extractor = get_extractor(name, device=device, inception_weights=cfg.inception_weights,
                                  protocol=cfg.protocol)
    keep = any(m in metrics for m in ("kid", "pr", "dc"))
    is_mix = isinstance(data, MixtureData)
    fake = extract(_generated(sample, cfg.n, cfg.seed, cfg.batch_size), extractor, keep,
                   keep_points=is_mix)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    if is_mix:
        def exact(n: int) -> Features:
            pts = data.sample(n, gen)[0]
            return extract(iter(pts.split(cfg.batch_size)), extractor, keep, keep_points=True)
        real = exact(cfg.n)
        halves = (exact(cfg.n), exact(cfg.n)) if floor else ()
        info = {"n_real": cfg.n, "real_split": "exact mixture samples",
                "floor": f"{cfg.n} vs {cfg.n} independent exact samples" if floor
                else "not computed", "floor_n": cfg.n if floor else None}
    else:
        real, halves, info = _real_and_floor(data, extractor, cfg, keep, floor, gen)
    scores = _scores(metrics, real, fake, data, cfg)
    floor_scores = _scores(metrics, *halves, data, cfg) if floor else {}
    protocol = {"extractor": extractor.name, "extractor_identity": extractor.identity,
                "inception_protocol": extractor.protocol, "metrics": metrics, "n_fake": cfg.n,
                **info, "data": data.name, "seed": cfg.seed,
                "kid": {"subsets": cfg.kid_subsets, "subset_size": cfg.kid_subset_size,
                        "seed": cfg.seed},
                "is": {"splits": 10, "shuffle_seed": cfg.seed},
                "k": {"precision_recall": 3, "density_coverage": 5}}
    return EvalResult(scores, floor_scores, protocol)


def better(name: str, new: float, old: float | None) -> bool:
    """True if score `name` improved (NaN never improves)."""
    if math.isnan(new):
        return False
    return old is None or (new - old) * SCORE_DIRECTION[name] > 0
