"""Self-conditioning (Liu et al. 2020, "Diverse image generation via self-conditioned GANs"):
labels made from the images themselves, so a class-conditional G and D can train on
unlabelled data and sample it unconditionally (classes drawn from the cluster sizes).

Why: a conditional GAN's samples stay closer to the data than an unconditional one's, and
the clusters give that gain without a label (on mnist5k, precision 0.71 over 5 seeds for
`selfcond-mnist` against 0.58 for `dcgan-mnist`'s unconditional nets; benchmarks/RESULTS.md). The clusters are k-means on the first 50
principal components of the pixels, fitted once at load time with fixed seeds, so every run
and every resume of the same data sees the same labels. Liu et al. re-cluster D's features
during training; fixed pixel clusters are the cheap version, and they need no extractor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from gankit.data.base import TensorData
from gankit.errors import GankitError

CLUSTER_PCA = 50  # principal components the k-means sees
CLUSTER_SEED = 0  # PCA and k-means seeds: the clusters depend on the images only
CLUSTER_INITS = 10  # k-means restarts; the best (lowest inertia) is kept


_CACHE: dict[tuple, torch.Tensor] = {}  # (k, shape, sha1 of the pixels) -> labels


def cluster_labels(x: torch.Tensor, k: int) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> int64 cluster ids (N,) in 0..k-1: k-means (k clusters) of
    their pixels' first CLUSTER_PCA principal components. Cached per process: training, the
    health monitor and evaluation each load the data (~5 s a fit for 5,000 digits)."""
    key = (k, tuple(x.shape), hashlib.sha1(x.contiguous().numpy().tobytes()).hexdigest())
    if key not in _CACHE:
        _CACHE[key] = _fit(x, k)
    return _CACHE[key].clone()


def _fit(x: torch.Tensor, k: int) -> torch.Tensor:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    flat = x.reshape(len(x), -1).float().numpy() / 255
    comps = min(CLUSTER_PCA, flat.shape[0], flat.shape[1])
    # one thread: k-means' parallel sums (OpenMP) and the SVD's (BLAS) round differently with
    # the thread count, which changed the clusters (and broke exact resume) in a test
    with threadpool_limits(limits=1):
        feats = PCA(comps, random_state=CLUSTER_SEED).fit_transform(flat)
        km = KMeans(k, n_init=CLUSTER_INITS, random_state=CLUSTER_SEED).fit(feats)
    return torch.from_numpy(np.asarray(km.labels_, dtype=np.int64))


@dataclass
class ClusteredData(TensorData):
    """Images labelled by their clusters for training. The data set's own labels are kept
    for the metrics, which count the classes an extractor knows, not the clusters."""

    own_y: torch.Tensor | None = None
    own_num_classes: int = 0

    def unclustered(self) -> TensorData:
        return TensorData(self.name, self.x, self.own_y, self.own_num_classes)


def with_clusters(data: TensorData, k: int, name: str) -> ClusteredData:
    """`data` with its labels replaced by `cluster_labels` (k classes); `name` is the data set
    named in the error when it cannot be clustered."""
    if not data.is_image:
        raise GankitError(f"data.clusters={k}: {name} is not a set of images (clusters are "
                          "made from pixels)")
    if k > len(data):
        raise GankitError(f"data.clusters={k}: {name} has only {len(data)} training images; "
                          "use fewer clusters")
    labels = cluster_labels(data.x, k)
    empty = k - int(torch.unique(labels).numel())
    if empty:
        raise GankitError(f"data.clusters={k}: {empty} of the clusters of {name} came out empty "
                          "(too many near-identical images); use fewer clusters")
    return ClusteredData(data.name, data.x, labels, k, data.y, data.num_classes)


def labels_digest(data: object) -> str | None:
    """sha1 of a clustered data set's labels (None for other data): written into every
    checkpoint, so a resume whose k-means came out differently (another scikit-learn, BLAS or
    CPU) stops instead of training each class embedding on another cluster."""
    if not isinstance(data, ClusteredData):
        return None
    return hashlib.sha1(data.y.contiguous().numpy().tobytes()).hexdigest()
