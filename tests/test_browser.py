"""The web app and the report driven in headless Chromium, as a person uses them: pick a run,
generate, move the interpolation slider, paint a mask and inpaint, upscale, translate,
download; a screenshot of each step goes to $GANKIT_SCREENSHOTS (default: a temporary
folder). Skipped, saying why, where Playwright or a Chromium is missing."""

from __future__ import annotations

import base64
import io
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data.photos import photo_images
from gankit.pipelines.generate import load
from gankit.pipelines.restore import load_image_model

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright; "
    "`make test` installs it)")


def _chromium() -> str | None:
    for name in (os.environ.get("GANKIT_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        path = name and shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found: install Debian's chromium (apt-get install "
    "chromium; `make test` does where it can) or set GANKIT_CHROMIUM")
# flags for a sandboxed, offline machine: no background calls home that the network refuses
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-default-apps", "--disable-extensions"]


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("GANKIT_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        return folder
    return str(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except sync_api.Error as exc:  # a Chromium this Playwright cannot drive
            first = str(exc).strip().splitlines()[0]
            pytest.skip(f"{CHROMIUM} does not start under Playwright: {first}")
        yield b
        b.close()


@pytest.fixture
def page(browser, live_app):
    """A fresh tab on the app; every request it makes is recorded and, at the end, checked
    to have gone to the app itself (or to be a blob:/data: URL the page made)."""
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    pg = ctx.new_page()
    seen: list[str] = []
    pg.on("request", lambda r: seen.append(r.url))
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(live_app + "/")
    pg.wait_for_selector("#run option", state="attached")  # (selectors: the page's CSP
    # forbids the string evaluation that wait_for_function uses)
    yield pg
    ctx.close()
    assert not errors, errors
    elsewhere = [u for u in seen if not u.startswith((live_app + "/", "blob:", "data:"))]
    assert seen and not elsewhere, elsewhere


def _pick(page, run: str) -> None:
    page.select_option("#run", run)


def _result(page, prefix: str) -> np.ndarray:
    """The result image's pixels, through the page's own Download link."""
    page.wait_for_selector(f"#{prefix}-dl:not([hidden])")
    with page.expect_download() as info:
        page.click(f"#{prefix}-dl")
    with Image.open(info.value.path()) as img:
        return np.asarray(img)


def _wait_new(page, prefix: str, old: str | None) -> None:
    page.wait_for_selector(f"#{prefix}-out[data-url]:not([data-url='{old}'])", state="attached")


def _url(page, prefix: str) -> str | None:
    return page.eval_on_selector(f"#{prefix}-out", "e => e.dataset.url || null")


def test_generate_a_class_row_in_the_browser(page, web_runs, shots):
    _pick(page, "cgan")
    assert page.is_visible("#gen-class-box") and not page.is_visible("#panel-inpaint")
    page.fill("#gen-seed", "4")
    page.fill("#gen-n", "8")
    page.select_option("#gen-class", "3")
    page.click("#gen-go")
    got = _result(page, "gen")
    page.screenshot(path=f"{shots}/app-1-generate.png")
    pipe = load(web_runs / "cgan")
    want = (pipe.sample(8, 4, classes=[3]) + 1) * 127.5
    assert got.shape == (2 + 3 * (8 + 2), 2 + 3 * (8 + 2))  # a 3x3 grid of 8x8 digits, 8 used
    first = got[2:10, 2:10].astype(float)
    assert np.abs(first - want[0, 0].clamp(0, 255).numpy()).max() <= 1


def test_the_interpolation_slider_moves_from_seed_a_to_seed_b(page, web_runs, shots):
    _pick(page, "dcgan")
    page.fill("#int-a", "3")
    page.fill("#int-b", "8")
    pipe = load(web_runs / "dcgan")
    ends = [((pipe.sample(1, s)[0, 0] + 1) * 127.5).round().clamp(0, 255).numpy()
            for s in (3, 8)]
    page.focus("#int-t")
    page.keyboard.press("End")  # the slider to B, as a keyboard user moves it
    page.wait_for_selector("#int-out[data-t='1.00']", state="attached")
    assert np.abs(_result(page, "int").astype(float) - ends[1]).max() <= 1
    page.focus("#int-t")  # back on the slider after the download link
    page.keyboard.press("Home")
    page.wait_for_selector("#int-out[data-t='0.00']", state="attached")
    assert np.abs(_result(page, "int").astype(float) - ends[0]).max() <= 1
    page.focus("#int-t")
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_selector("#int-out[data-t='0.50']", state="attached")
    mid = _result(page, "int").astype(float)
    assert np.abs(mid - ends[0]).max() > 1 and np.abs(mid - ends[1]).max() > 1
    page.screenshot(path=f"{shots}/app-2-interpolate.png")


def _upload_file(tmp_path, name: str, arr: np.ndarray) -> str:
    path = tmp_path / name
    Image.fromarray(arr).save(path)
    return str(path)


def _photo(w: int, h: int) -> np.ndarray:
    img = photo_images("heldout")[0][1].permute(1, 2, 0).numpy()
    return np.ascontiguousarray(img[100:100 + h, 100:100 + w])


def test_paint_a_mask_and_inpaint_keeps_every_other_pixel(page, web_runs, tmp_path, shots):
    _pick(page, "inpaint")
    img = _photo(96, 72)
    page.set_input_files("#inp-file", _upload_file(tmp_path, "photo.png", img))
    page.wait_for_selector("#inp-canvas[width='96']", state="attached")
    box = page.locator("#inp-canvas").bounding_box()
    page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.3 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.6 * box["height"], steps=12)
    page.mouse.up()
    page.screenshot(path=f"{shots}/app-3-paint-mask.png")
    page.click("#inp-go")
    out = _result(page, "inp")
    page.screenshot(path=f"{shots}/app-4-inpaint.png")
    assert out.shape == img.shape
    # the painted mask, read off the page's mask canvas: white strokes on transparent, which
    # the page flattens onto black, so a pixel's grey value is its alpha (white = hole)
    data = page.eval_on_selector("#inp-mask", "c => c.toDataURL('image/png')")
    with Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))) as m:
        hole = np.asarray(m.convert("RGBA"))[:, :, 3] > 127
    assert 200 < hole.sum() < 0.5 * hole.size  # the stroke, not nothing nor everything
    assert np.array_equal(out[~hole], img[~hole])
    assert not np.array_equal(out[hole], img[hole])
    ref = load_image_model(web_runs / "inpaint").inpaint(torch.from_numpy(img).permute(2, 0, 1),
                                                         torch.from_numpy(hole).float())
    assert np.array_equal(out, ref.permute(1, 2, 0).numpy())


def test_upscale_an_upload_by_the_models_scale(page, web_runs, tmp_path, shots):
    _pick(page, "superres")
    small = _photo(40, 30)
    page.set_input_files("#up-file", _upload_file(tmp_path, "small.png", small))
    page.click("#up-go")
    out = _result(page, "up")
    page.screenshot(path=f"{shots}/app-5-upscale.png")
    assert out.shape == (90, 120, 3) and "120x90" in page.inner_text("#up-info")
    ref = load_image_model(web_runs / "superres").upscale(torch.from_numpy(small).permute(2, 0, 1))
    assert np.array_equal(out, ref.permute(1, 2, 0).numpy())


def test_translate_both_ways_and_a_bad_upload_is_a_message(page, web_runs, tmp_path, shots):
    _pick(page, "cyclegan")
    digit = np.kron(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4, np.ones((2, 2), np.uint8))
    page.set_input_files("#tr-file", _upload_file(tmp_path, "digit.png", digit))
    page.select_option("#tr-dir", "b2a")
    page.click("#tr-go")
    out = _result(page, "tr")
    ref = load_image_model(web_runs / "cyclegan").translate(torch.from_numpy(digit)[None], "b2a")
    assert np.array_equal(out, ref[0].numpy())
    page.screenshot(path=f"{shots}/app-6-translate.png")
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    page.set_input_files("#tr-file", str(bad))
    page.click("#tr-go")
    sync_api.expect(page.locator("#tr-err")).to_contain_text("not an image gankit reads")
    page.screenshot(path=f"{shots}/app-7-bad-upload.png")
    page.select_option("#tr-dir", "a2b")  # and the server still answers
    page.set_input_files("#tr-file", _upload_file(tmp_path, "digit.png", digit))
    old = _url(page, "tr")
    page.click("#tr-go")
    _wait_new(page, "tr", old)
    assert page.inner_text("#tr-err") == ""


def test_a_sequence_run_plays_its_clips(page, shots):
    _pick(page, "clips")
    assert page.is_visible("#gen-frames-box") and not page.is_visible("#panel-interp")
    page.fill("#gen-frames", "6")
    page.click("#gen-go")
    page.wait_for_selector("#gen-dl:not([hidden])")
    with page.expect_download() as info:
        page.click("#gen-dl")
    with Image.open(info.value.path()) as gif:
        assert gif.format == "GIF" and gif.n_frames >= 2
    page.screenshot(path=f"{shots}/app-8-clips.png")


def test_the_report_scrubber_shows_each_saved_grid(browser, web_runs, tmp_path, shots):
    from gankit.cli import main

    out = tmp_path / "report.html"
    assert main(["report", str(web_runs / "dcgan"), str(web_runs / "cgan"), "--out", str(out),
                 "--n", "32"]) == 0
    pg = browser.new_page(viewport={"width": 1100, "height": 900})
    seen: list[str] = []
    pg.on("request", lambda r: seen.append(r.url))
    pg.goto(out.as_uri())
    grids = sorted((web_runs / "dcgan" / "samples").glob("step-*.png"))
    bar = "#scrub-0 input"
    assert pg.eval_on_selector("#scrub-0 output", "e => e.textContent") == "step 6"
    pg.focus(bar)
    pg.keyboard.press("Home")
    assert pg.eval_on_selector("#scrub-0 output", "e => e.textContent") == "step 3"
    src = pg.eval_on_selector("#scrub-0 img", "e => e.src")
    assert base64.b64decode(src.split(",", 1)[1]) == grids[0].read_bytes()
    shown = pg.eval_on_selector("#scrub-0 img", "e => e.naturalWidth")
    assert shown == Image.open(grids[0]).size[0]  # the browser decoded it
    pg.screenshot(path=f"{shots}/report.png", full_page=True)
    pg.close()
    assert seen == [out.as_uri()]  # the page itself, nothing else
