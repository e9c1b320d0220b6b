"""gankit: train, measure and use generative adversarial networks.

Python API:
    cfg = gankit.config.build("dcgan-mnist", ["train.steps=200"])
    run = gankit.fit(cfg, out="runs/demo")
    images = gankit.load(run).sample(16)      # float32 (16, 1, 28, 28) in [-1, 1]
    big = gankit.load_image_model("runs/sr4").upscale(uint8_image)   # image-to-image runs
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pathlib import Path

    from gankit.pipelines.generate import GeneratorPipeline
    from gankit.pipelines.restore import ImagePipeline


def load(path: str, device: str = "cpu", ema: bool = True) -> GeneratorPipeline:
    """A run folder or checkpoint -> a generator pipeline (see gankit.pipelines.generate)."""
    from gankit.pipelines.generate import load as _load

    return _load(path, device=device, ema=ema)


def load_image_model(path: str, device: str = "cpu", ema: bool = True) -> ImagePipeline:
    """An image2image / superres / cyclegan run -> inpaint, upscale, translate
    (see gankit.pipelines.restore)."""
    from gankit.pipelines.restore import load_image_model as _load

    return _load(path, device=device, ema=ema)


def fit(cfg: Any, out: str | None = None, resume: str | None = None,
          overrides: list[str] | None = None) -> Path:
    """Train `cfg` (Config, preset name, YAML path or dict) into `out`; see gankit.train.loop."""
    from gankit import config
    from gankit.train.loop import train as _train

    if resume is None and not isinstance(cfg, config.Config):
        cfg = config.build(cfg, overrides)
        overrides = None
    return _train(cfg, out=out, resume=resume, overrides=overrides)
