"""The web app's cost over the library, and a burst from several tabs; the report's cost.

Builds two runs with random weights (the weights do not change the cost): the `dcgan-mnist`
preset (28 px digits) and `srgan-photos` at scale 2, each trained for 1 step so that it has
a checkpoint. Then, in one process:

- generate: a 64-sample grid from seed k, through HTTP (`POST /api/generate` on a real
  uvicorn server on 127.0.0.1, urllib as the client) against the same work done directly
  (`pipe.sample(64, k)` + `pipe.save` to a PNG in memory's worth of a temporary file);
- upscale: a 256 px RGB photo crop x2 through `POST /api/upscale` against
  `ImagePipeline.upscale` + PNG encoding;
- burst: 48 mixed requests (generate, interpolate, upscale) from 8 threads at once; every
  answer is compared with the answer to the same request sent alone;
- report: `gankit report RUN --no-eval` and with the final metrics at `--n 1000`.

Each timing is the median of `--repeats` (HTTP and direct interleaved, so load drifts hit
both). Prints a table and writes JSON.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_serve.py --json benchmarks/results/serve.json
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit import config
from gankit.cli import main as cli
from gankit.data.photos import photo_images
from gankit.pipelines.generate import load
from gankit.pipelines.restore import load_image_model
from gankit.serve.launch import background
from gankit.train.loop import train


def _post(url: str, data: bytes, ctype: str) -> bytes:
    req = urllib.request.Request(url, data, {"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=300) as res:
        return res.read()


def _json(url: str, body: dict) -> bytes:
    return _post(url, json.dumps(body).encode(), "application/json")


def _form(url: str, fields: dict, files: dict) -> bytes:
    b = "gankitbenchboundary"
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts += [f'--{b}\r\nContent-Disposition: form-data; name="{k}"; filename="{k}.png"\r\n'
              f"Content-Type: image/png\r\n\r\n".encode() + v + b"\r\n" for k, v in files.items()]
    return _post(url, b"".join(parts) + f"--{b}--\r\n".encode(),
                 f"multipart/form-data; boundary={b}")


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    common = ["train.steps=1", "train.progress=false", "train.tensorboard=false",
              "train.sample_every=0", "health.every=0", f"train.threads={args.threads}"]
    out: dict = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or
                 platform.machine(), "torch": torch.__version__, "threads": args.threads,
                 "repeats": args.repeats, "command": " ".join(sys.argv)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        train(config.build("dcgan-mnist", common), out=root / "dcgan")
        train(config.build("srgan-photos", [*common, "model.scale=2", "train.pretrain_steps=1"]),
              out=root / "sr")
        app = background(str(root))
        url = app.url
        pipe, sr = load(root / "dcgan"), load_image_model(root / "sr")
        photo = photo_images("heldout")[0][1][:, :256, :256].contiguous()
        photo_png = _png(photo.permute(1, 2, 0).numpy())

        def direct_generate(k: int) -> None:
            with tempfile.TemporaryDirectory() as d:
                pipe.save(pipe.sample(64, k), Path(d) / "g.png")

        def direct_upscale() -> None:
            big = sr.upscale(photo)
            _png(big.permute(1, 2, 0).numpy())

        _json(url + "/api/generate", {"run": "dcgan", "seed": 0, "n": 64})  # warm both
        _form(url + "/api/upscale", {"run": "sr"}, {"image": photo_png})
        rows = {"generate 64 (dcgan-mnist)": ([], []), "upscale 256 px x2 (srgan)": ([], [])}
        for k in range(args.repeats):
            g, u = rows["generate 64 (dcgan-mnist)"], rows["upscale 256 px x2 (srgan)"]
            g[0].append(_timed(lambda k=k: _json(url + "/api/generate",
                                                 {"run": "dcgan", "seed": k, "n": 64})))
            g[1].append(_timed(lambda k=k: direct_generate(k)))
            u[0].append(_timed(lambda: _form(url + "/api/upscale", {"run": "sr"},
                                             {"image": photo_png})))
            u[1].append(_timed(direct_upscale))
        table = {}
        for name, (http, direct) in rows.items():
            h, d = statistics.median(http), statistics.median(direct)
            table[name] = {"http_s": h, "direct_s": d, "ratio": h / d}
        out["latency"] = table

        small = _png(photo[:, :64, :64].permute(1, 2, 0).numpy())
        jobs = []
        for k in range(48):
            if k % 3 == 0:
                jobs.append(lambda k=k: _json(url + "/api/generate",
                                              {"run": "dcgan", "seed": k, "n": 16}))
            elif k % 3 == 1:
                jobs.append(lambda k=k: _json(url + "/api/interpolate",
                                              {"run": "dcgan", "seed_a": k, "seed_b": k + 1,
                                               "t": 0.5}))
            else:
                jobs.append(lambda: _form(url + "/api/upscale", {"run": "sr"}, {"image": small}))
        t = time.perf_counter()
        alone = [j() for j in jobs]
        serial = time.perf_counter() - t
        t = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            burst = list(pool.map(lambda j: j(), jobs))
        parallel = time.perf_counter() - t
        out["burst"] = {"requests": len(jobs), "clients": 8, "serial_s": serial,
                        "burst_s": parallel, "all_equal": burst == alone}
        app.stop()

        rep = {}
        for label, extra in [("report, no eval", ["--no-eval"]),
                             ("report, final metrics n=1000", ["--n", "1000"])]:
            t = time.perf_counter()
            assert cli(["report", str(root / "dcgan"), "--out", f"{tmp}/r.html", *extra]) == 0
            rep[label] = {"s": time.perf_counter() - t,
                          "mb": Path(f"{tmp}/r.html").stat().st_size / 1e6}
            Path(f"{tmp}/r.html").unlink()
        out["report"] = rep

    print(f"\n{'request':<30}{'HTTP s':>9}{'direct s':>10}{'HTTP/direct':>13}")
    for name, r in out["latency"].items():
        print(f"{name:<30}{r['http_s']:9.3f}{r['direct_s']:10.3f}{r['ratio']:13.2f}")
    b = out["burst"]
    print(f"burst: {b['requests']} requests from {b['clients']} threads in {b['burst_s']:.2f} s "
          f"(one by one: {b['serial_s']:.2f} s); every answer equal to its lone answer: "
          f"{b['all_equal']}")
    for name, r in out["report"].items():
        print(f"{name}: {r['s']:.1f} s, {r['mb']:.2f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
