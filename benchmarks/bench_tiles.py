"""Tiled upscaling: peak memory against the image size, and throughput in megapixels/s.

`gankit upscale` runs a super-resolution G on images of any size; past `tile` px it runs tile
by tile with overlap blending (gankit.pipelines.tiles), so that the activation memory depends
on the tile, not the image. This measures that claim on the srgan-photos preset's generator
(SRResNetGenerator, width 32, 8 residual blocks) at scale 2, randomly initialised (the weights
do not change the cost), wrapped in `gankit.pipelines.restore.ImagePipeline` with the
pipeline's defaults for superres: tile 256, overlap 16. Scale 2 so that a 4,096 px input
gives an 8,192 px output that fits in RAM (its float32 output alone is 805 MB).

Each (mode, size) runs in a fresh subprocess, so its peak resident memory (ru_maxrss) is its
own: a square RGB uint8 random image of side `--sizes` px is upscaled once by
`ImagePipeline.upscale` (uint8 in, uint8 out), after one warm-up call on a 256 px image (one
tile: it primes oneDNN and holds the tile's activations, which the tiled run needs anyway).
Reported per run: wall and CPU seconds, output megapixels per second (wall), peak RSS, the
unavoidable buffers (the input as float32, the output as float32 and as uint8), peak RSS
minus those buffers, and the same minus the process's RSS before any inference (Python,
torch, the net, the uint8 input): the memory the inference itself used beyond its buffers,
which is what tiling should keep flat. Untiled inference (tile=0: the whole image through the
net at once) runs up to `--untiled-max` px; past it the run is skipped and the activation
memory it would need is extrapolated (x4 per doubling of the side) from the largest untiled
run. The `stub` mode runs the same tiled pipeline with a stand-in net that only upsamples
(nearest, x2: no activations to speak of, no compute), which separates the memory of the
pipeline's own full-size arithmetic (blending, normalising, conversion to uint8) from the
net's; it takes seconds.

On a busy machine run it with OMP_WAIT_POLICY=PASSIVE and 1 thread (the default). The
default sizes took about 14 minutes at 1 thread on the 2-core AVX2 machine of RESULTS.md
while the pipeline ran the net in NCHW (the SRResNet's last conv, 9x9 to 3 channels, runs
5-30x slower there); it now runs channels_last, about 2x faster; `--sizes 512,1024,2048
--untiled-max 512` takes a few minutes.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_tiles.py
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_tiles.py --sizes 512,1024,2048 \
        --untiled-max 512
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_tiles.py --modes stub \
        --json benchmarks/results/bench_tiles-stub.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SCALE, WIDTH, BLOCKS = 2, 32, 8  # srgan-photos' G (width 32, 8 blocks) at scale 2
WARMUP = 256  # px: the warm-up image (one tile)
MB = 1024 * 1024
MODES = ("tiled", "untiled", "stub")


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class Counting(nn.Module):
    """The net, counting its calls (one per tile)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.multiple, self.calls = net, getattr(net, "multiple", 1), 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(x)


class NearestStub(nn.Module):
    """A stand-in net for the `stub` mode: nearest-neighbour upsampling by SCALE."""

    multiple = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=SCALE, mode="nearest")


def child(mode: str, size: int, threads: int) -> dict:
    """One upscale of a size x size image in this process: tiled (the pipeline's default
    tile for superres), untiled (tile=0), or stub (tiled, with NearestStub as the net)."""
    from gankit.nets.image2image import SRResNetGenerator
    from gankit.pipelines.restore import OVERLAP, TILE, ImagePipeline

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    inner = NearestStub() if mode == "stub" else SRResNetGenerator(3, SCALE, width=WIDTH,
                                                                    blocks=BLOCKS)
    net = Counting(inner).eval()
    image_rec = {"task": "superres", "in_channels": 3, "out_channels": 3, "scale": SCALE,
                 "resolution": 96}
    pipe = ImagePipeline(net, None, image_rec, "superres", torch.device("cpu"))
    gen = torch.Generator().manual_seed(size)
    image = torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=gen)
    rss_base = rss_peak_mb()
    pipe.upscale(torch.randint(0, 256, (3, WARMUP, WARMUP), dtype=torch.uint8, generator=gen),
                 tile=0)
    rss_warm = rss_peak_mb()
    net.calls = 0
    tile = 0 if mode == "untiled" else None  # None: the pipeline's default (TILE["superres"])
    t, c = time.perf_counter(), time.process_time()
    out = pipe.upscale(image, tile=tile)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = rss_peak_mb()
    assert out.shape == (3, size * SCALE, size * SCALE) and out.dtype == torch.uint8
    n_in, n_out = 3 * size * size, 3 * (size * SCALE) ** 2
    buffers = (4 * n_in + 4 * n_out + n_out) / MB  # input float32, output float32 + uint8
    mp_out = (size * SCALE) ** 2 / 1e6
    return {"mode": mode, "size": size, "out_size": size * SCALE,
            "tile": 0 if mode == "untiled" else TILE["superres"],
            "overlap": 0 if mode == "untiled" else OVERLAP, "net_calls": net.calls,
            "wall_s": wall, "cpu_s": cpu, "out_mp": mp_out, "out_mp_per_s": mp_out / wall,
            "out_mp_per_cpu_s": mp_out / cpu, "peak_rss_mb": peak, "rss_base_mb": rss_base,
            "rss_after_warmup_mb": rss_warm, "buffers_mb": buffers,
            "peak_minus_buffers_mb": peak - buffers,
            "peak_minus_base_minus_buffers_mb": peak - rss_base - buffers}


def run_child(mode: str, size: int, threads: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--threads", str(threads), "--child", mode,
                           str(size)], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{mode} {size} px failed (exit {proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_table(rows: list[dict], skipped: list[dict]) -> None:
    print(f"{'mode':<8} {'in px':>6} {'out px':>7} {'tiles':>6} {'wall s':>7} {'CPU s':>7} "
          f"{'out MP/s':>9} {'peak RSS MB':>12} {'buffers MB':>11} {'peak-buf MB':>12} "
          f"{'peak-base-buf MB':>17}")
    for r in rows:
        print(f"{r['mode']:<8} {r['size']:>6} {r['out_size']:>7} {r['net_calls']:>6} "
              f"{r['wall_s']:>7.1f} {r['cpu_s']:>7.1f} {r['out_mp_per_s']:>9.3f} "
              f"{r['peak_rss_mb']:>12.0f} {r['buffers_mb']:>11.0f} "
              f"{r['peak_minus_buffers_mb']:>12.0f} {r['peak_minus_base_minus_buffers_mb']:>17.0f}")
    for s in skipped:
        print(f"skipped untiled {s['size']} px: {s['why']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="512,1024,2048,4096",
                    help="comma-separated input sides in px (square RGB images)")
    ap.add_argument("--modes", default=",".join(MODES),
                    help=f"comma-separated, from: {', '.join(MODES)} (stub: the tiled pipeline "
                         "with a nearest-upsampling stand-in net, its own memory)")
    ap.add_argument("--untiled-max", type=int, default=1024,
                    help="largest side also run untiled (tile=0); larger ones are skipped")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/bench_tiles.json"))
    ap.add_argument("--child", nargs=2, metavar=("MODE", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.threads)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if set(modes) - set(MODES):
        ap.error(f"unknown modes {sorted(set(modes) - set(MODES))}; choose from {MODES}")
    load0, omp = list(os.getloadavg()), os.environ.get("OMP_WAIT_POLICY")
    rows, skipped, t0 = [], [], time.perf_counter()
    for size in sizes:
        for mode in [m for m in MODES if m in modes]:
            if mode == "untiled" and size > args.untiled_max:
                skipped.append({"size": size, "why": ""})
                continue
            rows.append(run_child(mode, size, args.threads))
            r = rows[-1]
            print(f"[{mode} {size} px: {r['wall_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB]",
                  file=sys.stderr, flush=True)
    untiled = [r for r in rows if r["mode"] == "untiled"]
    for s in skipped:
        if untiled:
            ref = max(untiled, key=lambda r: r["size"])
            est = ref["peak_minus_base_minus_buffers_mb"] * (s["size"] / ref["size"]) ** 2
            s["est_activation_mb"] = est
            s["why"] = (f"the whole image's activations would need about {est / 1024:.1f} GB "
                        f"beyond its buffers (x4 per doubling from {ref['size']} px), "
                        f"on a {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f}"
                        " GB machine shared with other runs: above --untiled-max")
        else:
            s["why"] = "above --untiled-max"
    print_table(rows, skipped)
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_families_speed import machine

    torch.set_num_threads(args.threads)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "benchmark": "tiled_upscale_srresnet_w32_b8_x2",
        "command": (f"OMP_WAIT_POLICY={omp} " if omp else "") + shlex.join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
        "load_avg_at_start": load0, "seconds": time.perf_counter() - t0,
        "net": {"name": "srresnet-g", "channels": 3, "scale": SCALE, "width": WIDTH,
                "blocks": BLOCKS, "init": "random (seed 0)"},
        "image": "random uint8 RGB, square", "rows": rows, "skipped_untiled": skipped},
        indent=2))


if __name__ == "__main__":
    main()
