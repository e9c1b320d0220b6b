"""Image folders (`folder:PATH`) and array files (`npz:PATH`) as in-memory data sets.

A folder is decoded once with Pillow and the result cached in a `.npz` file whose name is
a hash of the files' bytes and the requested resolution/channels, so a second run loads in
milliseconds and an edited image invalidates the cache. First-level sub-folders become
class labels (sorted names -> 0, 1, ...); images directly in PATH make an unlabelled set.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.data.base import TensorData, convert_channels, resize_square
from gankit.errors import GankitError

# what np.load raises on a truncated, corrupt or pickled file
_BAD_NPZ = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def list_images(root: Path) -> tuple[list[Path], list[str]]:
    """All image files below `root` (sorted) and the class names (first-level sub-folders)."""
    if not root.is_dir():
        raise GankitError(f"data folder {root} does not exist or is not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise GankitError(f"data folder {root} has no images ({', '.join(sorted(IMAGE_EXTS))})")
    top = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    loose = [p for p in files if len(p.relative_to(root).parts) == 1]
    classes = top if top and not loose else []
    return files, classes


GREY_MODES = ("L", "1", "I", "I;16", "F", "LA")  # Pillow modes without colour


def convert_mode(img: Image.Image, mode: str) -> Image.Image:
    """A loaded image in `mode` (RGB or L); palette, alpha and wide modes go through RGBA
    (transparency over black) or L first."""
    if img.mode in ("P", "PA", "LA", "RGBA", "I", "I;16", "F", "CMYK", "YCbCr", "1"):
        img = img.convert("RGBA").convert("RGB") if mode == "RGB" else img.convert("L")
    return img.convert(mode)


def _decode(path: Path, mode: str, size: int) -> np.ndarray:
    """One image -> uint8 (H, W, C) with the short side scaled to `size` and centre-cropped."""
    with Image.open(path) as img:
        img.load()
        img = convert_mode(img, mode)
        w, h = img.size
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        img = img.crop((left, top, left + size, top + size))
        arr = np.asarray(img, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def _probe(files: list[Path], skip_bad: bool) -> tuple[int, int, list[Path], list[Path]]:
    """Default resolution (smallest short side: never upscale), channels (3 if any colour),
    and the readable and unreadable files."""
    sizes, colour, good, bad = [], False, [], []
    for path in files:
        try:
            with Image.open(path) as img:
                sizes.append(min(img.size))
                colour |= img.mode not in GREY_MODES
            good.append(path)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            if not skip_bad:
                raise GankitError(f"cannot read image {path}: {exc} "
                                  "(set data.skip_bad=true to skip unreadable images)") from None
            bad.append(path)
    if not good:
        raise GankitError("no readable images in the data folder")
    return min(sizes), 3 if colour else 1, good, bad


def _cache_key(files: list[Path], root: Path, size: int, channels: int) -> str:
    digest = hashlib.sha256(f"v1|{size}|{channels}".encode())
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def cache_root(cache_dir: str | None) -> Path:
    base = cache_dir or os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit"
    return Path(base)


def load_folder(root: str, resolution: int | None, channels: int | None, skip_bad: bool,
                cache_dir: str | None) -> TensorData:
    """Decode (or load from cache) every image below `root`."""
    rootp = Path(root).expanduser()
    files, classes = list_images(rootp)
    probe_size, probe_ch, files, bad = _probe(files, skip_bad)
    size, ch = resolution or probe_size, channels or probe_ch
    key = _cache_key(files, rootp, size, ch)
    cache_file = cache_root(cache_dir) / "folders" / f"{key}.npz"
    if cache_file.is_file() and not bad:
        with np.load(cache_file) as z:
            x, y = torch.from_numpy(z["x"]), torch.from_numpy(z["y"])
        return TensorData(f"folder:{root}", x, y if classes else None, len(classes))
    images, labels = [], []
    for path in files:
        try:
            images.append(_decode(path, "RGB" if ch == 3 else "L", size))
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            if not skip_bad:
                raise GankitError(f"cannot read image {path}: {exc} "
                                  "(set data.skip_bad=true to skip unreadable images)") from None
            bad.append(path)
            continue
        labels.append(classes.index(path.relative_to(rootp).parts[0]) if classes else 0)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s) in {root}, e.g. {bad[0]}",
                      stacklevel=2)
    if not images:
        raise GankitError(f"no readable images in {root}")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(labels, dtype=torch.long)
    if not bad:  # a cache must reflect the full folder; a skipped file may be fixed later
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, x=x.numpy(), y=y.numpy())
        os.replace(tmp, cache_file)
    return TensorData(f"folder:{root}", x, y if classes else None, len(classes))


def load_npz(path: str, resolution: int | None, channels: int | None) -> TensorData:
    """Arrays `x` (N,C,H,W or N,H,W,C or N,H,W images; or N,D points) and optional `y`.

    uint8 images are taken as [0, 255]; float images as [-1, 1] if any value is negative,
    else [0, 1] if the maximum is <= 1, else [0, 255]. Points are used as they are.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise GankitError(f"npz file {p} does not exist")
    try:
        z = np.load(p, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise GankitError(f"npz file {p} is a single array (.npy); save it with "
                              "numpy.savez(path, x=...)")
        with z:
            names = z.files
            x = np.asarray(z["x"]) if "x" in names else None
            y = np.asarray(z["y"]) if "y" in names else None
    except _BAD_NPZ as exc:
        raise GankitError(f"cannot read npz file {p}: {exc}") from None
    if x is None:
        raise GankitError(f"npz file {p} has no array 'x' (found: {', '.join(names) or 'none'})")
    _check_npz_arrays(p, x, y)
    labels = torch.from_numpy(y.astype(np.int64)) if y is not None else None
    ncls = int(y.max()) + 1 if y is not None else 0
    if x.ndim == 2:
        return TensorData(f"npz:{path}", torch.from_numpy(x.astype(np.float32)), labels, ncls)
    if x.ndim == 3:
        x = x[:, None]
    if x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.shape[1] not in (1, 3):
        raise GankitError(f"npz file {p}: cannot find a channel axis of size 1 or 3 in {x.shape}")
    if x.dtype != np.uint8:
        xf = x.astype(np.float64)
        if xf.min() < 0:
            xf = (xf + 1) * 127.5
        elif xf.max() <= 1:
            xf = xf * 255
        x = np.rint(xf).clip(0, 255).astype(np.uint8)
    images = convert_channels(torch.from_numpy(np.ascontiguousarray(x)), channels)
    return TensorData(f"npz:{path}", resize_square(images, resolution), labels, ncls)


def _check_npz_arrays(p: Path, x: np.ndarray, y: np.ndarray | None) -> None:
    """Shapes, dtypes and values of an npz's `x` and `y`, each mistake named in one line."""
    if x.ndim not in (2, 3, 4):
        raise GankitError(f"npz file {p}: 'x' must be (N, D) points or (N, C, H, W), (N, H, W, C) "
                          f"or (N, H, W) images, got shape {x.shape}")
    if x.shape[0] == 0 or 0 in x.shape[1:]:
        raise GankitError(f"npz file {p}: 'x' of shape {x.shape} is empty")
    if x.dtype.kind not in "biuf":
        raise GankitError(f"npz file {p}: 'x' must hold real numbers, got dtype {x.dtype}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise GankitError(f"npz file {p}: 'x' holds NaN or infinite values")
    if y is None:
        return
    if y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "iu":
        raise GankitError(f"npz file {p}: 'y' must be integer labels of shape ({len(x)},), "
                          f"got {y.dtype} {y.shape}")
    if y.min() < 0:
        raise GankitError(f"npz file {p}: 'y' labels must be >= 0, got {int(y.min())}")
