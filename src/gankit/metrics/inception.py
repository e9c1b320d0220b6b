"""Inception-v3 as used for FID, in plain PyTorch (no torchvision), with two input protocols.

The network is pytorch-fid's `fid_inception_v3()` (mseitzer/pytorch-fid, src/pytorch_fid/
inception.py) = torch-fidelity's `FeatureExtractorInceptionV3` (toshas/torch-fidelity,
torch_fidelity/feature_extractor_inceptionv3.py): torchvision's `Inception3` with 1008 classes,
no auxiliary head, and the TensorFlow-compatible blocks (average pools that ignore padding in
Mixed_5b..5d, Mixed_6b..6e and Mixed_7b, a max pool in Mixed_7c's pool branch). Module and
parameter names match `pt_inception-2015-12-05-6726825d.pth` (pytorch-fid's file; torch-fidelity's
`weights-inception-2015-12-05-6726825d.pth` holds the same state dict), so a user's existing copy
loads with `load_inception`. Nothing is downloaded: gankit runs offline.

What differs between FID implementations is the input pipeline (`protocol`, `eval.protocol`):
- "tf" (default), the TensorFlow graph behind published FIDs, as torch-fidelity reproduces it.
  torch-fidelity only accepts uint8 images, so images in [-1, 1] are first quantised exactly
  as gankit saves PNGs (`gankit.data.base.to_uint8`: clamp, (x + 1) * 127.5, round half to
  even; stylegan2-ada's `(x * 127.5 + 128).clamp(0, 255).to(uint8)` differs only at exact .5
  ties), which gives real uint8 data back unchanged. Then, on 0..255 floats, TF1's bilinear
  resize to 299 px (`tf.image.resize_bilinear`, align_corners=False: source = dst * in / out,
  no half-pixel offset, no antialiasing; torch-fidelity's
  `interpolate_bilinear_2d_like_tensorflow1x`, method "slow"), and (x - 128) / 128 (uint8 0 ->
  -1, 255 -> 0.99219: not exactly gankit's [-1, 1]).
- "pytorch-fid": pytorch-fid's pipeline (gankit's only one before `eval.protocol` existed):
  float input, no quantisation, `F.interpolate(bilinear, align_corners=False)` to 299 px (its
  2x - 1 step is not needed: gankit's images are already in [-1, 1]).
Grey images are repeated to RGB in both. torch-fidelity resizes even 299 px input; at 299 px that
resize is the identity bit for bit, so it is skipped here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.base import to_uint8
from gankit.errors import GankitError

ENV_VAR = "GANKIT_INCEPTION_WEIGHTS"
WEIGHTS_FILE_NAME = "pt_inception-2015-12-05-6726825d.pth"
INPUT_SIZE_PX = 299  # the resolution the TensorFlow graph was trained and exported at
NUM_CLASSES = 1008  # the 2015 TF graph has 1008 outputs (1000 ImageNet classes + 8 unused)
PROTOCOLS = ("tf", "pytorch-fid")  # input pipelines, see the module docstring

_BN_COUNTER = "num_batches_tracked"  # BatchNorm buffer the weights file may lack


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm(eps=1e-3) -> ReLU; the unit every Inception block is built of."""

    def __init__(self, in_ch: int, out_ch: int, **conv_kwargs: object) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, bias=False, **conv_kwargs)  # type: ignore[arg-type]
        self.bn = nn.BatchNorm2d(out_ch, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_same(x: Tensor) -> Tensor:
    # TensorFlow's 'SAME' average pool divides by the number of real (unpadded) inputs.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool_same(x: Tensor) -> Tensor:
    # The FID graph's last block (Mixed_7c) max-pools here, unlike the paper and torchvision.
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def resize_bilinear_tf1(x: Tensor, size: tuple[int, int]) -> Tensor:
    """TF1 `resize_bilinear(align_corners=False)` of float (N, C, H, W) images.

    Output pixel i samples the source at i * in / out (no half-pixel offset) and blends its two
    neighbours, the upper one clamped at the border; no antialiasing when shrinking. The blend
    order follows TF1's kernel, so float32 results equal torch-fidelity's TF1 port
    (`interpolate_bilinear_2d_like_tensorflow1x`) bit for bit (tests/test_inception.py).
    """

    def axis(n_out: int, n_in: int) -> tuple[Tensor, Tensor, Tensor]:
        pos = torch.arange(n_out, dtype=x.dtype, device=x.device)
        pos = pos * torch.tensor(n_in / n_out, dtype=torch.float32)
        lo = pos.long()
        return lo, (lo + 1).clamp_max(n_in - 1), pos - lo.float()

    def blend(a: Tensor, b: Tensor, w: Tensor) -> Tensor:
        return (b - a).mul_(w).add_(a)  # a + (b - a) * w, in place after the first op

    y_lo, y_hi, dy = axis(size[0], x.shape[2])
    x_lo, x_hi, dx = axis(size[1], x.shape[3])
    top, bottom = x[:, :, y_lo, :], x[:, :, y_hi, :]
    dx = dx.view(1, 1, 1, -1)
    row_top = blend(top[:, :, :, x_lo], top[:, :, :, x_hi], dx)
    row_bottom = blend(bottom[:, :, :, x_lo], bottom[:, :, :, x_hi], dx)
    return blend(row_top, row_bottom, dy.view(1, 1, -1, 1))


class InceptionA(nn.Module):
    """35x35 block (Mixed_5b..5d): 1x1, 5x5, double 3x3 and pool branches."""

    def __init__(self, in_ch: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_ch, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_ch, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_ch, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_same(x))
        return torch.cat([self.branch1x1(x), b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17 (Mixed_6a); unchanged from torchvision."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_ch, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([self.branch3x3(x), b3, bp], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convs (Mixed_6b..6e)."""

    def __init__(self, in_ch: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        row = {"kernel_size": (1, 7), "padding": (0, 3)}
        col = {"kernel_size": (7, 1), "padding": (3, 0)}
        self.branch1x1 = BasicConv2d(in_ch, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_ch, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, 192, **col)
        self.branch7x7dbl_1 = BasicConv2d(in_ch, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, **row)
        self.branch_pool = BasicConv2d(in_ch, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                     self.branch7x7dbl_5):
            d = conv(d)
        bp = self.branch_pool(_avg_pool_same(x))
        return torch.cat([self.branch1x1(x), b7, d, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8 (Mixed_7a); unchanged from torchvision."""

    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_ch, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_ch, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = conv(b7)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3/3x1 convs; `max_pool` selects Mixed_7c's pool (else Mixed_7b's).

    pytorch-fid has two classes (FIDInceptionE_1/_2) that differ only in this pool; one flag keeps
    the parameter names identical and the difference in one place.
    """

    def __init__(self, in_ch: int, max_pool: bool) -> None:
        super().__init__()
        row = {"kernel_size": (1, 3), "padding": (0, 1)}
        col = {"kernel_size": (3, 1), "padding": (1, 0)}
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_ch, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_ch, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, **row)
        self.branch3x3_2b = BasicConv2d(384, 384, **col)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, **row)
        self.branch3x3dbl_3b = BasicConv2d(384, 384, **col)
        self.branch_pool = BasicConv2d(in_ch, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        s = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(s), self.branch3x3_2b(s)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = _max_pool_same(x) if self.max_pool else _avg_pool_same(x)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3: images in [-1, 1] -> (pool3 features (N, 2048), logits (N, 1008)).

    protocol: "tf" (default) or "pytorch-fid", the input pipeline (module docstring). It is not
    part of the weights: the same file serves both.
    """

    def __init__(self, protocol: str = "tf") -> None:
        super().__init__()
        if protocol not in PROTOCOLS:
            raise GankitError(f"Inception protocol must be one of {', '.join(PROTOCOLS)}, "
                              f"got {protocol!r}")
        self.protocol = protocol
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, NUM_CLASSES)

    def preprocess(self, x: Tensor) -> Tensor:
        """Images (N, 1 or 3, H, W) in [-1, 1] -> the network's (N, 3, 299, 299) input."""
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise GankitError(
                f"Inception expects images (N, 1 or 3, H, W) in [-1, 1], got shape {tuple(x.shape)}"
            )
        size = (INPUT_SIZE_PX, INPUT_SIZE_PX)
        if self.protocol == "tf":
            x = to_uint8(x).to(torch.float32)  # 0..255, as a saved PNG; torch-fidelity's input
            if x.shape[-2:] != size:
                x = resize_bilinear_tf1(x, size)
            x = (x - 128) / 128
        else:
            x = x.to(torch.float32)
            if x.shape[-2:] != size:
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x.expand(-1, 3, -1, -1)  # grey -> RGB; RGB unchanged

    def features(self, x: Tensor) -> Tensor:
        """pool3 features (N, 2048) of images in [-1, 1]."""
        x = self.preprocess(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # N x 64 x 147 x 147
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # N x 64 x 73 x 73
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # N x 192 x 71 x 71
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # N x 192 x 35 x 35
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)  # ends at N x 2048 x 8 x 8
        return torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)

    def unbiased_logits(self, features: Tensor) -> Tensor:
        """features @ fc.weight^T: the logits without fc's bias, which the Inception Score uses
        (torch-fidelity's `logits_unbiased`; the original TF IS code reads the graph's
        un-biased matmul)."""
        return features.mm(self.fc.weight.T)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.features(x)
        return features, self.fc(features)


def expected_state_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of the state dict a weights file must provide (BatchNorm counters excluded)."""
    state = FIDInceptionV3().state_dict()
    return {k: tuple(v.shape) for k, v in state.items() if not k.endswith(_BN_COUNTER)}


def _missing_weights_message(detail: str) -> str:
    return (
        f"{detail}; Inception weights cannot be downloaded here: get {WEIGHTS_FILE_NAME} (the file "
        f"pytorch-fid and torch-fidelity use) and pass its path with eval.inception_weights=PATH "
        f"or {ENV_VAR}=PATH, or use the offline 'lenet-mnist' extractor, which needs no file"
    )


def _check_state(state: object, model_state: Mapping[str, Tensor], path: str) -> None:
    """Raise a GankitError naming the first missing/unexpected key or wrong shape."""
    if not isinstance(state, Mapping):
        kind = type(state).__name__
        raise GankitError(f"Inception weights {path}: expected a state dict, got {kind}")
    for key, ref in model_state.items():
        if key.endswith(_BN_COUNTER):
            continue
        if key not in state:
            raise GankitError(f"Inception weights {path}: missing key '{key}'")
        value = state[key]
        if not isinstance(value, Tensor) or tuple(value.shape) != tuple(ref.shape):
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise GankitError(
                f"Inception weights {path}: '{key}' has shape {got}, expected {tuple(ref.shape)}"
            )
    for key in state:
        if key not in model_state:
            raise GankitError(f"Inception weights {path}: unexpected key '{key}'")


def load_inception(
    path: str | os.PathLike[str] | None = None, device: str = "cpu", protocol: str = "tf"
) -> FIDInceptionV3:
    """Build the FID Inception from a local weights file: `path`, else $GANKIT_INCEPTION_WEIGHTS.

    protocol: the input pipeline, "tf" (default) or "pytorch-fid" (module docstring).
    Returns the model on `device`, in eval mode, with gradients off. Never downloads.
    """
    source = path if path is not None else (os.environ.get(ENV_VAR) or None)
    if source is None:
        raise GankitError(_missing_weights_message("no Inception weights file given"))
    source = os.fspath(source)
    if not os.path.isfile(source):
        detail = f"Inception weights file {source} does not exist"
        raise GankitError(_missing_weights_message(detail))
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means a bad user file
        reason = " ".join(str(exc).split())[:200]
        raise GankitError(f"cannot load Inception weights {source}: {reason}") from exc
    model = FIDInceptionV3(protocol)
    full_state = dict(model.state_dict())  # supplies BatchNorm counters the file may lack
    _check_state(state, full_state, source)
    full_state.update(state)
    model.load_state_dict(full_state)
    model.to(device).eval().requires_grad_(False)
    return model
