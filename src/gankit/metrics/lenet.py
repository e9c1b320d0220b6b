"""LeNet-style digit classifiers that gankit trains itself, for offline metrics on digits.

Their penultimate activations are the features for FID/KID/precision-recall/density-
coverage on 28x28 (`lenet-mnist`) and 8x8 (`lenet-digits`) digits, and their softmax
outputs the class probabilities for the Inception Score and class coverage. The shipped
weights are re-trained by

    gankit extractor-train lenet-mnist --out lenet-mnist.pt   (lenet-digits likewise)

from a fixed seed: a fixed split (seeded permutation of the data set; mnist5k: 4,000
train / 1,000 held out), Adam, random +-2 px shifts, a fixed number of epochs, one thread.

What "reproduces" means: CPU kernels (SIMD width, oneDNN/MKL code paths) differ between
processors, so the weights are bit-for-bit identical only on a machine like the one the
hashes were made on (`SHIPPED_ON`: CPU model, torch's CPU kernel level, torch version). On
every machine the re-trained classifier must agree with the shipped one on at least
`MIN_AGREEMENT` of the held-out predictions, with a held-out accuracy within
`MAX_ACCURACY_DELTA` of it (`compare_to_shipped`).
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import DataConfig


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a shipped classifier's weights."""

    data: str  # built-in data set
    resolution: int
    n_heldout: int  # images held out (after a seeded permutation) for the accuracy check
    width: int = 16  # channels of the first conv (doubled in the second)
    feat_dim: int = 64  # feature dimension (penultimate layer)
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    shift_px: int = 2  # random translation augmentation; 0 disables
    seed: int = 0


@dataclass(frozen=True)
class Machine:
    """What decides which CPU kernels torch runs, hence the bits of a re-trained model."""

    cpu: str  # CPU model name (/proc/cpuinfo; platform.processor() where there is none)
    kernels: str  # torch's CPU kernel level, e.g. AVX2, AVX512
    torch: str  # torch version without the build tag


def this_machine() -> Machine:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return Machine(cpu or platform.processor() or "unknown",
                   torch.backends.cpu.get_cpu_capability(), torch.__version__.split("+")[0])


# sha256 over the shipped tensors (`state_sha256`), made by `gankit extractor-train NAME` on
# SHIPPED_ON ("AMD EPYC" with AVX512-BF16, as in benchmarks/RESULTS.md). Only a machine
# with the same fingerprint reproduces them bit for bit: an "AMD EPYC" with AVX2 kernels
# does not.
SHIPPED_ON = Machine(cpu="AMD EPYC", kernels="AVX512", torch="2.13.0")
SHIPPED_SHA256 = {
    "lenet-mnist": "1edd1e129cbf551d4b77f05acbaf8124c2dc0304567a87f110d95a33f985c8c4",  # 98.2% held out
    "lenet-digits": "5137024a99d1cda74b8002d6caee0f26ac6e5124a48ed78b6779cf49c2a3eb28",  # 99.4% held out
}

RECIPES = {
    "lenet-mnist": Recipe(data="mnist5k", resolution=28, n_heldout=1000),
    "lenet-digits": Recipe(data="digits", resolution=8, n_heldout=360, width=32, feat_dim=128,
                           shift_px=0, epochs=40),
}


class LeNet(nn.Module):
    """conv-relu-pool x 2 -> linear-relu (features) -> linear (logits); input in [-1, 1]."""

    def __init__(self, resolution: int, width: int = 16, feat_dim: int = 64,
                 num_classes: int = 10) -> None:
        super().__init__()
        k = 5 if resolution >= 16 else 3
        self.resolution = resolution
        self.conv1 = nn.Conv2d(1, width, k, padding=k // 2)
        self.conv2 = nn.Conv2d(width, 2 * width, k, padding=k // 2)
        self.fc1 = nn.Linear(2 * width * (resolution // 4) ** 2, feat_dim)
        self.fc2 = nn.Linear(feat_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc1(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, logits)."""
        f = self.features(x)
        return f, self.fc2(f)


def split(n: int, n_heldout: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, held-out indices) of a seeded permutation."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_heldout:], perm[:n_heldout]


def _shift(x: torch.Tensor, px: int, gen: torch.Generator) -> torch.Tensor:
    """Random integer translation by up to `px` pixels (zero = background -1 padding)."""
    if px == 0:
        return x
    n, _, h, w = x.shape
    pad = F.pad(x, (px, px, px, px), value=-1.0)
    dx = torch.randint(0, 2 * px + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * px + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None])[:, :, None].expand(n, h, w)
    cols = (dx[:, None] + torch.arange(w)[None])[:, None, :].expand(n, h, w)
    return pad[torch.arange(n)[:, None, None], 0, rows, cols][:, None]


def _load_split(recipe: Recipe) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from gankit import data
    from gankit.data.base import to_unit_range

    ds = data.load(DataConfig(name=recipe.data))
    x, y = to_unit_range(ds.x), ds.y
    tr, ho = split(len(ds), recipe.n_heldout, recipe.seed)
    return x[tr], y[tr], x[ho], y[ho]


def train_classifier(name: str, log: bool = True) -> tuple[LeNet, float]:
    """Train the named recipe from its seed; returns (model in eval mode, held-out accuracy)."""
    recipe = RECIPES[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the bits must not depend on the core count
    try:
        torch.manual_seed(recipe.seed)
        model = LeNet(recipe.resolution, recipe.width, recipe.feat_dim)
        opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        xtr, ytr, xho, yho = _load_split(recipe)
        gen = torch.Generator().manual_seed(recipe.seed + 1)
        for epoch in range(recipe.epochs):
            model.train()
            perm = torch.randperm(len(xtr), generator=gen)
            for i in range(0, len(perm) - recipe.batch_size + 1, recipe.batch_size):
                idx = perm[i:i + recipe.batch_size]
                _, logits = model(_shift(xtr[idx], recipe.shift_px, gen))
                loss = F.cross_entropy(logits, ytr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if log:
                print(f"epoch {epoch + 1}/{recipe.epochs}: held-out accuracy "
                      f"{accuracy(model, xho, yho):.4f}", flush=True)
        model.eval()
        return model, accuracy(model, xho, yho)
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def accuracy(model: LeNet, x: torch.Tensor, y: torch.Tensor) -> float:
    was = model.training
    model.eval()
    _, logits = model(x)
    model.train(was)
    return float((logits.argmax(1) == y).float().mean())


def heldout_accuracy(name: str, model: LeNet) -> float:
    _, _, xho, yho = _load_split(RECIPES[name])
    return accuracy(model, xho, yho)


MIN_AGREEMENT = 0.99  # share of held-out images both classifiers put in the same class
MAX_ACCURACY_DELTA = 0.005  # |re-trained - shipped| held-out accuracy (0.5 points)


@dataclass(frozen=True)
class Comparison:
    """A re-trained classifier against the shipped one, on the recipe's held-out images."""

    agreement: float  # share of held-out images with the same predicted class
    accuracy: float  # re-trained model's held-out accuracy
    shipped_accuracy: float
    bit_exact: bool  # same tensors as the shipped weights (sha256)
    machine: Machine  # where the comparison ran

    @property
    def accuracy_delta(self) -> float:
        return self.accuracy - self.shipped_accuracy

    @property
    def reproduces(self) -> bool:
        """The claim that holds on every machine."""
        return (self.agreement >= MIN_AGREEMENT
                and abs(self.accuracy_delta) <= MAX_ACCURACY_DELTA)

    @property
    def expect_bit_exact(self) -> bool:
        """The stronger claim, made only on a machine like the one the hash was made on."""
        return self.machine == SHIPPED_ON

    def summary(self) -> str:
        verdict = "reproduces" if self.reproduces else "DOES NOT reproduce"
        if self.bit_exact:
            bits = "bit for bit"
        elif self.expect_bit_exact:
            bits = "but NOT bit for bit, on the machine the hash was made on"
        else:
            bits = (f"not bit for bit: expected only on {SHIPPED_ON.cpu} / "
                    f"{SHIPPED_ON.kernels} / torch {SHIPPED_ON.torch}")
        return (f"held-out accuracy {self.accuracy:.4f} (shipped {self.shipped_accuracy:.4f}, "
                f"{100 * self.accuracy_delta:+.1f} points), same class as the shipped "
                f"classifier on {100 * self.agreement:.1f}% of held-out images: {verdict} it "
                f"(needs >= {100 * MIN_AGREEMENT:.0f}% and within "
                f"{100 * MAX_ACCURACY_DELTA:.1f} points), {bits}; this machine: "
                f"{self.machine.cpu} / {self.machine.kernels} / torch {self.machine.torch}")


@torch.no_grad()
def compare_to_shipped(name: str, model: LeNet) -> Comparison:
    """Agreement of `model` with the shipped `name` on the held-out set, accuracies, hash."""
    _, _, xho, yho = _load_split(RECIPES[name])
    shipped = load_classifier(name)
    was = model.training
    model.eval()
    pred = model(xho)[1].argmax(1)
    model.train(was)
    ref = shipped(xho)[1].argmax(1)
    return Comparison(
        agreement=float((pred == ref).float().mean()),
        accuracy=float((pred == yho).float().mean()),
        shipped_accuracy=float((ref == yho).float().mean()),
        bit_exact=state_sha256(model.state_dict()) == SHIPPED_SHA256[name],
        machine=this_machine())


def weights_path(name: str) -> Path:
    return Path(__file__).parent / "weights" / f"{name}.pt"


def save_weights(model: LeNet, path: str | Path) -> str:
    """Write the state dict; returns its sha256 (of the tensors' bytes, order-stable)."""
    torch.save(model.state_dict(), path)
    return state_sha256(model.state_dict())


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_classifier(name: str) -> LeNet:
    """The shipped weights of `name`, in eval mode, gradients off."""
    recipe = RECIPES[name]
    model = LeNet(recipe.resolution, recipe.width, recipe.feat_dim)
    model.load_state_dict(torch.load(weights_path(name), map_location="cpu", weights_only=True))
    model.eval().requires_grad_(False)
    return model
