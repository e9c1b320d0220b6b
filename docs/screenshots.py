"""The README's screenshots of `gankit serve` and `gankit report`, taken in headless Chromium
(Debian's, driven by Playwright) on trained runs below RUNS_DIR:

    python docs/screenshots.py RUNS_DIR --generate cgan-mnist --inpaint inpaint-photos \\
        --upscale srgan-photos-x2 --report cgan-mnist --out docs/screenshots

The same steps on tiny runs, with their results checked, are tests/test_browser.py.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

from gankit.cli import main as cli
from gankit.data.photos import photo_images
from gankit.serve.launch import background

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs_dir")
    ap.add_argument("--generate", required=True)
    ap.add_argument("--inpaint", required=True)
    ap.add_argument("--upscale", required=True)
    ap.add_argument("--report", nargs="+", required=True)
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = background(args.runs_dir)
    url = app.url
    tmp = Path(tempfile.mkdtemp())
    photo = photo_images("heldout")[0][1].permute(1, 2, 0).numpy()
    Image.fromarray(np.ascontiguousarray(photo[60:188, 40:200])).save(tmp / "photo.png")
    Image.fromarray(np.ascontiguousarray(photo[80:144, 80:144])).save(tmp / "small.png")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 760})
        page.goto(url + "/")
        page.wait_for_selector("#run option", state="attached")
        page.select_option("#run", args.generate)
        page.fill("#gen-n", "40")
        page.click("#gen-go")
        page.wait_for_selector("#gen-dl:not([hidden])")
        page.locator("#panel-generate").screenshot(path=str(out / "app-generate.png"))
        page.fill("#int-a", "1")
        page.fill("#int-b", "7")
        page.focus("#int-t")
        for _ in range(8):
            page.keyboard.press("ArrowRight")
        page.wait_for_selector("#int-out[data-t='0.40']", state="attached")
        page.locator("#panel-interp").screenshot(path=str(out / "app-interpolate.png"))
        page.select_option("#run", args.inpaint)
        page.set_input_files("#inp-file", str(tmp / "photo.png"))
        page.wait_for_selector("#inp-canvas[width='160']", state="attached")
        box = page.locator("#inp-canvas").bounding_box()
        page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.35 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.55 * box["height"],
                        steps=15)
        page.mouse.up()
        page.locator("#panel-inpaint").screenshot(path=str(out / "app-paint-mask.png"))
        page.click("#inp-go")
        page.wait_for_selector("#inp-dl:not([hidden])")
        page.locator("#inp-out").scroll_into_view_if_needed()
        page.locator("#panel-inpaint").screenshot(path=str(out / "app-inpaint.png"))
        page.select_option("#run", args.upscale)
        page.set_input_files("#up-file", str(tmp / "small.png"))
        page.click("#up-go")
        page.wait_for_selector("#up-dl:not([hidden])")
        page.locator("#panel-upscale").screenshot(path=str(out / "app-upscale.png"))
        app.stop()
        report = tmp / "report.html"
        assert cli(["report", *[str(Path(args.runs_dir) / r) for r in args.report], "--out",
                    str(report), "--n", "1000"]) == 0
        page = browser.new_page(viewport={"width": 1100, "height": 1500})
        page.goto(report.as_uri())
        page.screenshot(path=str(out / "report.png"))
        browser.close()
    print(f"wrote screenshots to {out}")


if __name__ == "__main__":
    main()
