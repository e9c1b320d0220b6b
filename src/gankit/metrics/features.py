"""Feature extractors: images (or points) -> (features, class logits or None).

Any `nn.Module` whose forward maps a float batch in [-1, 1] to `(features, logits)` or to
features alone plugs in through the Python API (`Extractor.from_module`). By name:
- `lenet-mnist` / `lenet-digits`: gankit's own digit classifiers (shipped weights, offline);
- `inception`: the FID Inception-v3, from a weights file the user names;
- `raw`: the samples themselves, flattened (2-D mixtures are measured on coordinates).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gankit.errors import GankitError
from gankit.registry import Registry


@dataclass
class Extractor:
    name: str
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
    device: torch.device = torch.device("cpu")

    @classmethod
    def from_module(cls, module: nn.Module, name: str = "custom",
                    device: str | torch.device = "cpu") -> Extractor:
        """Wrap a user's module returning features or (features, logits)."""
        module = module.to(device).eval()

        def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
            out = module(x)
            return (out[0], out[1]) if isinstance(out, tuple) else (out, None)

        return cls(name, fn, torch.device(device))

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats, logits = self.fn(x.to(self.device))
        return feats.float().flatten(1).cpu(), None if logits is None else logits.float().cpu()


EXTRACTORS: Registry[Callable[..., Extractor]] = Registry("feature extractor")


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
        return Extractor(name, lambda x: model(_digits_input(x, res)), torch.device(device))

    return factory


EXTRACTORS.register("lenet-mnist", "gankit's MNIST classifier: 64-d features, 10 classes")(
    _lenet("lenet-mnist"))
EXTRACTORS.register("lenet-digits", "gankit's 8x8-digits classifier: 64-d features, 10 classes")(
    _lenet("lenet-digits"))


@EXTRACTORS.register("inception", "FID Inception-v3 (2048-d pool3, 1008 logits); needs a file")
def inception(device: str = "cpu", inception_weights: str | None = None,
              **_: object) -> Extractor:
    from gankit.metrics.inception import load_inception

    model = load_inception(inception_weights, device=device)
    return Extractor("inception", model, torch.device(device))


@EXTRACTORS.register("raw", "the samples themselves, flattened (2-D points)")
def raw(device: str = "cpu", **_: object) -> Extractor:
    return Extractor("raw", lambda x: (x.flatten(1), None), torch.device(device))


def default_extractor(data_name: str) -> str:
    """The extractor a data set is measured with unless the user names one."""
    return {"mnist5k": "lenet-mnist", "digits": "lenet-digits", "ring8": "raw",
            "grid25": "raw"}.get(data_name, "inception")


def get_extractor(name: str, device: str = "cpu", inception_weights: str | None = None
                  ) -> Extractor:
    return EXTRACTORS.get(name)(device=device, inception_weights=inception_weights)
