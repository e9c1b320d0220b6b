"""Uploaded images, checked before anything is decoded: size in bytes, a format from a short
list (sniffed from the bytes, not the name or the declared type), and the pixel count read
from the header, so a small file that would decode to gigabytes (a decompression bomb) is
refused without decoding it. A photo's EXIF orientation is applied, as browsers apply it
when they show the photo (the painted mask must line up with what the user saw)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from gankit.data.folder import GREY_MODES, convert_mode
from gankit.errors import GankitError

FORMATS = ("PNG", "JPEG", "BMP", "WEBP", "GIF", "TIFF")  # what Pillow may decode an upload as


class UploadError(GankitError):
    """A refused upload; `status` is the HTTP status the app answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server."""
    max_bytes: int = 16 * 2**20  # one uploaded file
    max_pixels: int = 4096 * 4096  # width x height of an upload (from its header) or result
    max_whole_pixels: int = 1024 * 1024  # for nets that must see the whole image at once
    #                                      (instance norm: no tiling, memory grows with it)


def size_text(n: int) -> str:
    """Bytes as a short size: 16 MB, 195 KB."""
    return f"{n / 2**20:.3g} MB" if n >= 2**20 else f"{n / 2**10:.3g} KB"


def decode_image(data: bytes, what: str, limits: Limits, channels: int | None = None,
                 ) -> torch.Tensor:
    """Uploaded bytes -> uint8 (C, H, W), grey (1) or RGB (3) (`channels`, or the file's
    own); an UploadError naming `what` and what is allowed otherwise."""
    if not data:
        raise UploadError(f"{what}: the upload is empty; choose an image file")
    if len(data) > limits.max_bytes:
        raise UploadError(f"{what}: larger than the upload limit of "
                          f"{size_text(limits.max_bytes)}", 413)
    bomb = f"more than the limit of {limits.max_pixels:,} pixels (decompression-bomb guard)"
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            w, h = img.size  # from the header: nothing decoded yet
            if w * h > limits.max_pixels:
                raise UploadError(f"{what}: {w}x{h} px is {bomb}", 413)
            img.load()
            upright = ImageOps.exif_transpose(img)  # as a browser shows a phone photo
            if channels is None:
                channels = 1 if upright.mode in GREY_MODES else 3
            arr = np.array(convert_mode(upright, "RGB" if channels == 3 else "L"), np.uint8)
    except UnidentifiedImageError:
        raise UploadError(f"{what}: not an image gankit reads; upload one of "
                          f"{', '.join(FORMATS)}", 415) from None
    except Image.DecompressionBombError:  # Pillow's own, still larger, limit
        raise UploadError(f"{what}: {bomb}", 413) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise UploadError(f"{what}: a damaged or unreadable image ({type(exc).__name__})"
                          ) from None
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def decode_mask(data: bytes, size: tuple[int, int], limits: Limits) -> torch.Tensor:
    """A painted mask (white = hole) -> (1, 1, H, W) float 0/1; it must be the image's size."""
    grey = decode_image(data, "mask", limits, channels=1)[0]
    if tuple(grey.shape) != tuple(size):
        raise UploadError(f"mask: {grey.shape[1]}x{grey.shape[0]} px, the image is "
                          f"{size[1]}x{size[0]}; they must match")
    return (grey > 127).float()[None, None]
