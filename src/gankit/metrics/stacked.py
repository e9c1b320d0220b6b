"""Stacked MNIST mode counting, as in PacGAN's Table 3 (Lin et al. 2018, "PacGAN: The power
of two samples in generative adversarial networks"), whose set-up comes from Unrolled GAN
(Metz et al. 2017) and VEEGAN (Srivastava et al. 2017).

Each of the 3 channels of a generated 3x28x28 image is classified as a digit c_R, c_G, c_B by
a pretrained MNIST classifier (here gankit's shipped `lenet-mnist`; PacGAN used Keras's
`mnist_cnn` demo), and the image's mode is 100 c_R + 10 c_G + c_B. Reported, over N_PAPER =
26,000 generated samples (VEEGAN sec. 5; PacGAN's `num_test_sample` default; its Table-3
config `unrolled_GAN_experiment/D=*/config.py` sets 25,600):
- modes: the number of the 1,000 modes with at least one sample;
- KL(p_gen || uniform) = sum_{m: p_gen(m) > 0} p_gen(m) log(1000 p_gen(m)), where p_gen is the
  generated mode histogram; the direction of PacGAN's `DCGAN.log_metrics`
  (`stacked_MNIST_experiments/unrolled_GAN_experiment/D=0.25G/model.py`:
  `JSD().KLD(p, q)`, p the generated histogram, q = 1/1000, 0 log 0 = 0, no epsilon).
  One mode only gives ln 1000 = 6.908; the uniform histogram gives 0.

`StackedClassifier` is also the `lenet-stacked` feature extractor (features.py): features are
the three channels' LeNet features side by side (3 x 64), logits the joint log-probabilities
of the 1,000 modes, so `evaluate`'s `modes` metric counts the same modes (argmax of the joint
= the per-channel argmaxes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gankit.data.base import to_unit_range
from gankit.errors import GankitError
from gankit.metrics.modes import class_coverage

N_PAPER = 26_000  # generated samples per measurement (VEEGAN, PacGAN)
DIGITS = 10  # classes of one channel
STACKED_EXTRACTORS = {"stacked-mnist": "lenet-stacked"}  # data set -> its mode classifier


@dataclass(frozen=True)
class StackedModes:
    """Modes with >= 1 sample, out of num_modes, and KL(generated || uniform) over modes."""

    modes: int
    num_modes: int
    kl: float  # KL(p_gen || uniform), nats
    n: int  # samples counted
    counts: tuple[int, ...]  # samples per mode, mode = 100 c_R + 10 c_G + c_B

    def to_dict(self) -> dict[str, float | int]:
        """The scalar results (counts left out)."""
        return {"modes": int(self.modes), "num_modes": int(self.num_modes),
                "mode_kl": float(self.kl), "n": int(self.n)}


class StackedClassifier(nn.Module):
    """A one-channel digit classifier applied to each channel of (N, C, H, W) images in [-1, 1]:
    (features (N, C * d), joint mode log-probabilities (N, 10^C))."""

    def __init__(self, digit: nn.Module, channels: int = 3, resolution: int = 28) -> None:
        super().__init__()
        self.digit = digit
        self.channels = channels
        self.resolution = resolution  # the digit classifier's input size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        crops = x.reshape(n * self.channels, 1, *x.shape[2:])
        if crops.shape[-1] != self.resolution or crops.shape[-2] != self.resolution:
            crops = F.interpolate(crops, size=(self.resolution, self.resolution),
                                  mode="bilinear", antialias=True, align_corners=False)
        feats, logits = self.digit(crops)
        return feats.reshape(n, -1), joint_log_probs(logits.reshape(n, self.channels, -1))


def joint_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """(N, C, K) per-channel class logits -> (N, K^C) log-probabilities of the channels' joint
    classes, index sum_c k_c K^(C-1-c) (channel 0 most significant), channels independent."""
    lp = F.log_softmax(logits.float(), dim=-1)
    n, c, _ = lp.shape
    out = lp[:, 0]
    for i in range(1, c):
        out = (out[:, :, None] + lp[:, i, None, :]).reshape(n, -1)
    return out


def mode_ids(digits: torch.Tensor) -> torch.Tensor:
    """(N, C) digits per channel -> (N,) modes sum_c d_c 10^(C-1-c), e.g. 100 d_R + 10 d_G + d_B."""
    c = digits.shape[1]
    powers = DIGITS ** torch.arange(c - 1, -1, -1, device=digits.device)
    return (digits.long() * powers).sum(1)


def load_stacked_classifier(name: str = "lenet-mnist", channels: int = 3) -> StackedClassifier:
    """The shipped digit classifier `name`, per channel, in eval mode, gradients off."""
    from gankit.metrics.lenet import load_classifier

    digit = load_classifier(name)
    return StackedClassifier(digit, channels, digit.resolution).eval().requires_grad_(False)


def check_images(x: torch.Tensor, channels: int) -> None:
    """A GankitError unless x is a float (N, channels, H, W) batch."""
    if x.dim() != 4 or x.shape[1] != channels or not x.is_floating_point():
        raise GankitError(f"stacked mode counting needs float images of shape (N, {channels}, "
                          f"H, W) in [-1, 1], got {x.dtype} {tuple(x.shape)}")


@torch.no_grad()
def classify_modes(batches: Iterator[torch.Tensor],
                   classifier: StackedClassifier | None = None) -> torch.Tensor:
    """(N,) mode of every image: the argmax of the joint log-probabilities, which is the
    mode of the channels' own argmax digits (`mode_ids`)."""
    model = classifier or load_stacked_classifier()
    device = next(model.parameters()).device
    out = []
    for x in batches:
        check_images(x, model.channels)
        out.append(model(x.to(device, torch.float32))[1].argmax(1).cpu())
    if not out:
        raise GankitError("stacked mode counting needs at least one image")
    return torch.cat(out)


def count_modes(modes: torch.Tensor, num_modes: int = 1000) -> StackedModes:
    """Modes hit and KL(p_gen || uniform) of (N,) mode ids (PacGAN's formula: modes.py's
    `class_coverage` with a uniform reference)."""
    r = class_coverage(modes, num_modes)
    counts = torch.bincount(modes.reshape(-1).long(), minlength=num_modes)
    return StackedModes(r.classes_covered, num_modes, r.kl, int(modes.numel()),
                        tuple(int(c) for c in counts))


def stacked_modes(images: torch.Tensor, classifier: StackedClassifier | None = None,
                  batch_size: int = 500) -> StackedModes:
    """Mode count and KL of (N, C, H, W) images in [-1, 1] (uint8 images are scaled)."""
    if images.dim() != 4:
        raise GankitError(f"stacked mode counting needs (N, C, H, W) images, got shape "
                          f"{tuple(images.shape)}")
    if images.dtype == torch.uint8:
        batches: Iterator[torch.Tensor] = (to_unit_range(c) for c in images.split(batch_size))
    else:
        batches = iter(images.split(batch_size))
    model = classifier or load_stacked_classifier()
    return count_modes(classify_modes(batches, model), DIGITS ** model.channels)


def sample_modes(sample: Callable[[int, int], torch.Tensor], n: int = N_PAPER, seed: int = 0,
                 classifier: StackedClassifier | None = None,
                 batch_size: int = 500) -> StackedModes:
    """Mode count and KL of n samples of `sample(m, seed)` (e.g. `GeneratorPipeline.sample`),
    drawn in batches with seeds seed * 100003 + i (as `evaluate` draws them); only the mode
    ids are kept."""
    if n < 1:
        raise GankitError(f"n must be positive, got {n}")
    model = classifier or load_stacked_classifier()

    def batches() -> Iterator[torch.Tensor]:
        for i, start in enumerate(range(0, n, batch_size)):
            yield sample(min(batch_size, n - start), seed * 100003 + i)

    return count_modes(classify_modes(batches(), model), DIGITS ** model.channels)
