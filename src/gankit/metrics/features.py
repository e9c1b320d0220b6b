"""Feature extractors: images (or points) -> (features, class logits or None).

Any `nn.Module` whose forward maps a float batch in [-1, 1] to `(features, logits)` or to
features alone plugs in through the Python API (`Extractor.from_module`). By name:
- `lenet-mnist` / `lenet-digits`: gankit's own digit classifiers (shipped weights, offline);
- `lenet-stacked`: lenet-mnist on each channel of Stacked MNIST (stacked.py): 3 x 64
  features side by side, logits = joint log-probabilities of the 1,000 modes;
- `inception`: the FID Inception-v3, from a weights file the user names, with the input
  protocol `tf` (default) or `pytorch-fid`; its class logits are the fc layer without its bias
  (torch-fidelity's `logits_unbiased`, what the Inception Score is defined on);
- `raw`: the samples themselves, flattened (2-D mixtures are measured on coordinates).

Every extractor carries an `identity`: a sha256 of what determines its output (weights,
preprocessing, protocol), which keys the real-feature cache, so two weight files or two
protocols never share cached features. None means "do not cache".
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.metrics.stacked import STACKED_EXTRACTORS, load_stacked_classifier
from gankit.registry import Registry

_AUTO = "auto"
_SIMPLE = (bool, int, float, str, type(None))


def state_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 of a state dict: every key, dtype, shape and byte (BatchNorm counters skipped)."""
    h = hashlib.sha256()
    for key in sorted(state):
        if key.endswith("num_batches_tracked"):
            continue  # a training counter, absent from many weight files; never used in eval
        t = state[key].detach().cpu().contiguous().reshape(-1)
        h.update(f"{key}|{t.dtype}|{tuple(state[key].shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _hash_code(h: Any, code: types.CodeType) -> None:
    h.update(code.co_code)
    for const in code.co_consts:  # nested functions/comprehensions are code objects here
        if isinstance(const, types.CodeType):
            _hash_code(h, const)
        elif isinstance(const, frozenset):  # `x in {...}`: repr order varies between processes
            h.update(repr(sorted(map(repr, const))).encode())
        else:
            h.update(repr(const).encode())
    h.update(repr(code.co_names).encode())


def module_identity(module: nn.Module) -> str:
    """sha256 of a module: each submodule's class, its `forward` bytecode, its plain
    (bool/int/float/str/None) attributes and extra_repr, and the state dict.

    Code that forward calls outside the module's classes is not covered; pass an explicit
    `identity` to `Extractor.from_module` (or None to disable caching) if that can change.
    """
    h = hashlib.sha256()
    for name, sub in module.named_modules():
        cls = type(sub)
        h.update(f"{name}|{cls.__module__}.{cls.__qualname__}|{sub.extra_repr()}|".encode())
        code = getattr(cls.forward, "__code__", None)
        if code is not None:
            _hash_code(h, code)
        plain = sorted((k, v) for k, v in vars(sub).items()
                       if not k.startswith("_") and k != "training" and isinstance(v, _SIMPLE))
        h.update(repr(plain).encode())
    h.update(state_sha256(module.state_dict()).encode())
    return h.hexdigest()


def _identity(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


@dataclass
class Extractor:
    """A callable images -> (features (N, d) float32, logits (N, C) or None), on the CPU."""

    name: str
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    identity: str | None = None  # sha256 of weights + preprocessing; keys the cache; None = no cache
    protocol: str | None = None  # Inception input protocol (tf | pytorch-fid); None = not Inception

    @classmethod
    def from_module(cls, module: nn.Module, name: str = "custom",
                    device: str | torch.device = "cpu", identity: str | None = _AUTO
                    ) -> Extractor:
        """Wrap a user's module returning features or (features, logits).

        identity: "auto" hashes the module now (`module_identity`: classes, forward code, plain
        attributes, weights) so its real features are cached; wrap it again after changing its
        weights. Any other string is used as given (change it whenever the extractor changes);
        None disables the cache.
        """
        module = module.to(device).eval()
        if identity == _AUTO:
            identity = _identity("module", name, module_identity(module))

        def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
            out = module(x)
            return (out[0], out[1]) if isinstance(out, tuple) else (out, None)

        return cls(name, fn, torch.device(device), identity)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats, logits = self.fn(x.to(self.device))
        return feats.float().flatten(1).cpu(), None if logits is None else logits.float().cpu()


EXTRACTORS: Registry[Callable[..., Extractor]] = Registry("feature extractor")

_DIGITS_PREPROCESS = "grey by ITU-R 601 luma; antialiased bilinear resize to {} px"


def _digits_input(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Images in [-1, 1] -> grey, `resolution` px, as the LeNet was trained on."""
    if x.dim() != 4:
        raise GankitError("the lenet extractors need images; use the raw extractor for points")
    if x.shape[1] == 3:
        x = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)).sum(
            1, keepdim=True)
    if x.shape[-1] != resolution or x.shape[-2] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True,
                          align_corners=False)
    return x


def _lenet(name: str) -> Callable[..., Extractor]:
    def factory(device: str = "cpu", **_: object) -> Extractor:
        from gankit.metrics.lenet import load_classifier

        model = load_classifier(name).to(device)
        res = model.resolution
        identity = _identity("lenet", _DIGITS_PREPROCESS.format(res), state_sha256(
            model.state_dict()))
        return Extractor(name, lambda x: model(_digits_input(x, res)), torch.device(device),
                         identity)

    return factory


EXTRACTORS.register("lenet-mnist", "gankit's MNIST classifier: 64-d features, 10 classes")(
    _lenet("lenet-mnist"))
EXTRACTORS.register("lenet-digits", "gankit's 8x8-digits classifier: 64-d features, 10 classes")(
    _lenet("lenet-digits"))


@EXTRACTORS.register("lenet-stacked", "lenet-mnist on each RGB channel (Stacked MNIST): "
                     "192-d features, 1000 modes")
def lenet_stacked(device: str = "cpu", **_: object) -> Extractor:
    model = load_stacked_classifier("lenet-mnist").to(device)
    identity = _identity("lenet-stacked", "each channel alone; antialiased bilinear resize to "
                         f"{model.resolution} px; joint log-softmax over the channels' digits",
                         state_sha256(model.digit.state_dict()))

    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != model.channels:
            raise GankitError(f"lenet-stacked needs {model.channels}-channel images, got shape "
                              f"{tuple(x.shape)}")
        return model(x)

    return Extractor("lenet-stacked", fn, torch.device(device), identity)


@EXTRACTORS.register("inception", "FID Inception-v3 (2048-d pool3, 1008 unbiased logits); "
                     "needs a file")
def inception(device: str = "cpu", inception_weights: str | None = None, protocol: str = "tf",
              **_: object) -> Extractor:
    from gankit.metrics.inception import load_inception

    model = load_inception(inception_weights, device=device, protocol=protocol)

    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = model.features(x)
        return feats, model.unbiased_logits(feats)

    identity = _identity("inception", f"protocol={protocol}", state_sha256(model.state_dict()))
    return Extractor("inception", fn, torch.device(device), identity, protocol)


@EXTRACTORS.register("raw", "the samples themselves, flattened (2-D points)")
def raw(device: str = "cpu", **_: object) -> Extractor:
    return Extractor("raw", lambda x: (x.flatten(1), None), torch.device(device),
                     _identity("raw"))


def default_extractor(data_name: str, shape: tuple[int, ...] | None = None) -> str:
    """The extractor a data set is measured with unless the user names one (points: raw)."""
    if shape is not None and len(shape) == 1:
        return "raw"
    return {"mnist5k": "lenet-mnist", "digits": "lenet-digits",
            "digits-framed": "lenet-mnist", "ring8": "raw",
            "grid25": "raw", "moving-mnist": "lenet-mnist", "moving-mnist2": "lenet-mnist",
            **STACKED_EXTRACTORS}.get(data_name.removesuffix(":frames"), "inception")


def get_extractor(name: str, device: str = "cpu", inception_weights: str | None = None,
                  protocol: str = "tf") -> Extractor:
    """The extractor registered as `name`; `protocol` applies to `inception` only."""
    return EXTRACTORS.get(name)(device=device, inception_weights=inception_weights,
                                protocol=protocol)
