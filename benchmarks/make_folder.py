"""Write an RGB image folder for benchmarking `resnet-folder`: random crops of the built-in
training photos, one PNG per crop.

`resnet-folder` trains on a user's folder of small RGB images, and no such folder ships with
gankit. Crops of the photographs that scikit-image and scikit-learn ship are the closest
stand-in with natural-image statistics and no download: N crops of a random side (48-160 px,
so the folder holds several scales) at random places, seeded, so the same command writes the
same folder on every machine.

    python benchmarks/make_folder.py --out /tmp/crops --n 5000
    gankit train resnet-folder data.name=folder:/tmp/crops
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.data.photos import PHOTOS_TRAIN, _package_dir, read_image


def write_crops(out: Path, n: int, seed: int, lo: int = 48, hi: int = 160) -> list[Path]:
    """n PNG crops of the training photos in `out` (which must not exist yet)."""
    photos = [read_image(_package_dir(pkg) / name, channels=3).numpy().transpose(1, 2, 0)
              for pkg, name in PHOTOS_TRAIN]
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True)
    paths = []
    for i in range(n):
        img = photos[rng.integers(len(photos))]
        side = int(rng.integers(lo, min(hi, *img.shape[:2]) + 1))
        top = int(rng.integers(img.shape[0] - side + 1))
        left = int(rng.integers(img.shape[1] - side + 1))
        path = out / f"{i:05d}.png"
        Image.fromarray(np.ascontiguousarray(img[top:top + side, left:left + side])).save(path)
        paths.append(path)
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.out.exists():
        raise SystemExit(f"--out {args.out}: already exists; name a new folder")
    write_crops(args.out, args.n, args.seed)
    print(f"wrote {args.n} crops to {args.out}")


if __name__ == "__main__":
    main()
