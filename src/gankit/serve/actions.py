"""What the app's buttons do, as plain functions of a loaded run: each returns the encoded
result (PNG or GIF bytes), made by the same pipeline calls as the CLI commands, so the page
and `gankit sample / interpolate / inpaint / upscale / translate` give the same pixels."""

from __future__ import annotations

import io
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.data.base import to_uint8
from gankit.errors import GankitError
from gankit.images import make_grid
from gankit.pipelines.clips import save_gif
from gankit.pipelines.generate import GeneratorPipeline
from gankit.pipelines.interpolate import interpolate
from gankit.pipelines.restore import ImagePipeline, has_instance_norm
from gankit.serve.uploads import Limits, UploadError, decode_image, decode_mask

MAX_N = 64  # samples in one generated grid
MAX_CLIPS, MAX_FRAMES = 16, 64  # clips in one animation, frames each
MAX_SEED = 2**31 - 1


@dataclass
class Result:
    """An encoded answer and what the page needs to show and save it."""
    data: bytes
    media_type: str  # image/png | image/gif
    filename: str  # what the page's download link saves it as
    size: tuple[int, int]  # (width, height) px


def _png(arr: np.ndarray, filename: str) -> Result:
    """uint8 (H, W, C) -> PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(buf, "PNG")
    return Result(buf.getvalue(), "image/png", filename, (arr.shape[1], arr.shape[0]))


def _chw_png(img: torch.Tensor, filename: str) -> Result:
    return _png(img.permute(1, 2, 0).numpy(), filename)


def _generator(pipe: object) -> GeneratorPipeline:
    if not isinstance(pipe, GeneratorPipeline):
        raise GankitError("this run maps images to images; it draws no samples")
    return pipe


def _image_model(pipe: object, what: str) -> ImagePipeline:
    if not isinstance(pipe, ImagePipeline):
        raise GankitError(f"{what} needs an image-to-image run (model.family=image2image, "
                          "superres or cyclegan); this one draws samples")
    return pipe


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    """A whole number (not a bool, float or string) in [lo, hi], or a GankitError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise GankitError(f"{name}: give a whole number from {lo} to {hi}, not {value!r}")
    return value


def _truncation(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not 0 < float(value) <= 1:
        raise GankitError(f"truncation: give psi in (0, 1], not {value!r}")
    return None if float(value) == 1 else float(value)


def generate(pipe: object, seed: int, n: int, cls: int | None = None,
             codes: dict | None = None, truncation: float | None = None) -> Result:
    """A grid of n samples from `seed` (one row per class for a conditional model when no
    class is chosen), a scatter plot for 2-D points."""
    gp = _generator(pipe)
    seed, n = check_int("seed", seed, 0, MAX_SEED), check_int("n", n, 1, MAX_N)
    if gp.is_sequence:
        return clip(gp, seed, min(n, MAX_CLIPS), None, truncation)
    if cls is not None:
        if not gp.num_classes:
            gp.labels(1, classes=0)  # the library's error for a model without classes
        cls = check_int("class", cls, 0, gp.num_classes - 1)
    opts = {"codes": codes or {}, "truncation": _truncation(truncation)}
    nrow = None
    clustered = gp.config.data.clusters > 0  # self-conditioned: a plain sample, as the CLI
    if gp.is_image and gp.num_classes and cls is None and not clustered:
        grid = gp.class_grid(n, seed, **opts)
        samples, nrow = grid.samples, grid.columns
    else:
        samples = gp.sample(n, seed, classes=None if cls is None else [cls], **opts)
    with tempfile.TemporaryDirectory() as tmp:  # the CLI's writer: grid or scatter plot
        out = Path(tmp) / "samples.png"
        gp.save(samples, out, nrow=nrow)
        data = out.read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        size = img.size
    return Result(data, "image/png", f"samples-seed{seed}.png", size)


def interpolation(pipe: object, seed_a: int, seed_b: int, t: float) -> Result:
    """The sample a fraction t of the way from seed_a's latent to seed_b's (slerp)."""
    gp = _generator(pipe)
    seed_a = check_int("seed A", seed_a, 0, MAX_SEED)
    seed_b = check_int("seed B", seed_b, 0, MAX_SEED)
    if not gp.is_image or gp.is_sequence:
        raise GankitError("the interpolation slider is for image models")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 1:
        raise GankitError(f"t: give a fraction from 0 to 1, not {t!r}")
    img = to_uint8(interpolate(gp, [seed_a, seed_b], at=[float(t)])[0, 0])
    return _chw_png(img, f"interpolation-{seed_a}-{seed_b}-t{t:.2f}.png")


def clip(pipe: object, seed: int, n: int = 4, frames: int | None = None,
         truncation: float | None = None) -> Result:
    """n clips from `seed` side by side in one looping GIF."""
    gp = _generator(pipe)
    if not gp.is_sequence:
        raise GankitError("animation needs a sequence model (model.family=sequence)")
    seed, n = check_int("seed", seed, 0, MAX_SEED), check_int("clips", n, 1, MAX_CLIPS)
    if frames is not None:
        frames = check_int("frames", frames, 2, MAX_FRAMES)
    clips = to_uint8(gp.sample(n, seed, frames=frames, truncation=_truncation(truncation)))
    nrow = math.ceil(math.sqrt(n))
    frames_t = [torch.from_numpy(make_grid(clips[:, t], nrow=nrow)).permute(2, 0, 1)
                for t in range(clips.shape[1])]
    with tempfile.TemporaryDirectory() as tmp:
        path = save_gif(torch.stack(frames_t), Path(tmp) / "clips.gif")
        data = path.read_bytes()
    h, w = frames_t[0].shape[1:]
    return Result(data, "image/gif", f"clips-seed{seed}.gif", (w, h))


def _check_whole(ip: ImagePipeline, net: object, img: torch.Tensor, limits: Limits) -> None:
    """A net with instance norm runs on the whole image at once (no tiles), so its memory
    grows with the image: a tighter pixel cap than the tiled nets."""
    h, w = img.shape[-2:]
    if has_instance_norm(net) and h * w > limits.max_whole_pixels:
        raise UploadError(f"image: {w}x{h} px; this {ip.family} model sees the whole image at "
                          f"once (instance norm), so it takes at most "
                          f"{limits.max_whole_pixels:,} pixels; upload a smaller image", 413)


def inpaint(pipe: object, image: bytes, mask: bytes, limits: Limits) -> Result:
    """Fill the white parts of `mask` in `image`; every other pixel is returned unchanged."""
    ip = _image_model(pipe, "inpainting")
    ip.require("inpaint", ("inpaint",), "a model trained with data.pairs=inpaint")
    img = decode_image(image, "image", limits, ip.input_channels())
    hole = decode_mask(mask, tuple(img.shape[-2:]), limits)
    if not hole.any():
        raise UploadError("mask: nothing is painted; paint over the part to fill")
    _check_whole(ip, ip.g, img, limits)
    return _chw_png(ip.inpaint(img, hole), "inpainted.png")


def upscale(pipe: object, image: bytes, limits: Limits) -> Result:
    """Enlarge by the model's scale (tiled past 256 px: memory bounded)."""
    ip = _image_model(pipe, "upscaling")
    ip.check_upscale()
    img = decode_image(image, "image", limits, ip.input_channels())
    h, w = img.shape[-2:]
    if h * w * ip.scale**2 > limits.max_pixels:
        raise UploadError(f"image: {w}x{h} px x{ip.scale} would be {w * ip.scale}x"
                          f"{h * ip.scale} px, more than the limit of {limits.max_pixels:,} "
                          "pixels; upload a smaller image", 413)
    _check_whole(ip, ip.g, img, limits)
    return _chw_png(ip.upscale(img), f"upscaled-x{ip.scale}.png")


def translate(pipe: object, image: bytes, direction: str, limits: Limits) -> Result:
    """Translate `image` a2b (or b2a for a CycleGAN)."""
    ip = _image_model(pipe, "translation")
    ip.check_translate(direction)
    img = decode_image(image, "image", limits, ip.input_channels(direction))
    _check_whole(ip, ip.g_ba if direction == "b2a" else ip.g, img, limits)
    return _chw_png(ip.translate(img, direction), f"translated-{direction}.png")
