"""The web app's HTTP side, without a browser: same pixels as the CLI, uploads checked,
refusals in one line, nothing served from elsewhere, a concurrent burst answered right."""

from __future__ import annotations

import io
import json
import select
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from gankit.cli import main
from gankit.data.base import to_uint8
from gankit.pipelines.generate import load
from gankit.pipelines.restore import load_image_model
from gankit.serve import actions
from gankit.serve.app import create_app
from gankit.serve.uploads import Limits


def png(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt)
    return buf.getvalue()


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img)


def photo(w: int = 40, h: int = 30, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (h, w, channels) if channels == 3 else (h, w)
    return rng.integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture(scope="module")
def client(web_runs):
    return TestClient(create_app(str(web_runs), Limits(max_bytes=200_000, max_pixels=600 * 600,
                                                       max_whole_pixels=48 * 48)),
                      base_url="http://127.0.0.1")


def test_runs_are_listed_with_what_each_can_do(client):
    runs = {r["id"]: r for r in client.get("/api/runs").json()["runs"]}
    assert {k: runs[k]["kind"] for k in runs} == {
        "dcgan": "image", "cgan": "image", "infogan": "image", "ring": "points",
        "clips": "sequence", "inpaint": "inpaint", "superres": "upscale", "cyclegan": "translate"}
    assert runs["cgan"]["classes"] == 10 and runs["dcgan"]["classes"] == 0
    assert runs["infogan"]["codes"] == [{"name": "c0", "size": 10}, {"name": "c1", "size": 0}]
    assert runs["superres"]["scale"] == 3 and runs["cyclegan"]["directions"] == ["a2b", "b2a"]
    assert runs["clips"]["frames"] == 4


def test_generated_grids_are_the_cli_samples_pixel_for_pixel(client, web_runs, tmp_path):
    for run, extra, body in [("dcgan", [], {}), ("cgan", ["--class", "3"], {"class": 3}),
                             ("infogan", ["--code", "c0=2"], {"codes": {"c0": 2}}),
                             ("cgan", [], {}), ("ring", [], {})]:
        out = tmp_path / f"{run}-{len(extra)}.png"
        assert main(["sample", str(web_runs / run), "--n", "12", "--seed", "5", *extra,
                     "--out", str(out)]) == 0
        r = client.post("/api/generate", json={"run": run, "seed": 5, "n": 12, **body})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert np.array_equal(pixels(r.content), pixels(out.read_bytes())), run
        w, h = Image.open(io.BytesIO(r.content)).size
        assert r.headers["x-image-size"] == f"{w}x{h}"


def test_truncation_and_seed_change_the_samples(client):
    base = client.post("/api/generate", json={"run": "dcgan", "seed": 1, "n": 4}).content
    same = client.post("/api/generate", json={"run": "dcgan", "seed": 1, "n": 4,
                                              "truncation": 1}).content
    trunc = client.post("/api/generate", json={"run": "dcgan", "seed": 1, "n": 4,
                                               "truncation": 0.3}).content
    other = client.post("/api/generate", json={"run": "dcgan", "seed": 2, "n": 4}).content
    assert base == same and base != trunc and base != other


def test_the_interpolation_slider_runs_from_seed_a_to_seed_b(client, web_runs):
    pipe = load(web_runs / "dcgan")
    ends = {t: pixels(client.post("/api/interpolate", json={"run": "dcgan", "seed_a": 3,
                                                            "seed_b": 8, "t": t}).content)
            for t in (0, 0.5, 1)}
    a, b = (to_uint8(pipe.sample(1, seed=s))[0, 0].numpy() for s in (3, 8))
    assert np.array_equal(ends[0], a) and np.array_equal(ends[1], b)
    assert not np.array_equal(ends[0.5], a) and not np.array_equal(ends[0.5], b)


def test_a_sequence_run_answers_with_a_looping_gif_of_its_clips(client):
    r = client.post("/api/clip", json={"run": "clips", "seed": 0, "n": 4, "frames": 7})
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    with Image.open(io.BytesIO(r.content)) as gif:
        assert gif.n_frames <= 7 and gif.info.get("loop") == 0
        assert gif.size == (2 * 16 + 3 * 2, 2 * 16 + 3 * 2)  # 2x2 clips, 2 px borders


def test_inpainting_keeps_every_unpainted_pixel(client, web_runs):
    img = photo(45, 37)
    mask = np.zeros((37, 45), np.uint8)
    mask[10:20, 5:30] = 255
    r = client.post("/api/inpaint", data={"run": "inpaint"},
                    files={"image": ("p.png", png(img)), "mask": ("m.png", png(mask))})
    assert r.status_code == 200, r.text
    out = pixels(r.content)
    hole = mask > 127
    assert out.shape == img.shape and np.array_equal(out[~hole], img[~hole])
    assert not np.array_equal(out[hole], img[hole])
    ref = load_image_model(web_runs / "inpaint").inpaint(
        torch.from_numpy(img).permute(2, 0, 1), torch.from_numpy(hole).float())
    assert np.array_equal(out, ref.permute(1, 2, 0).numpy())


def test_upscale_and_translate_are_the_pipelines(client, web_runs):
    small = photo(17, 11)
    r = client.post("/api/upscale", data={"run": "superres"}, files={"image": ("s.png", png(small))})
    assert r.status_code == 200 and r.headers["x-image-size"] == "51x33"
    ref = load_image_model(web_runs / "superres").upscale(torch.from_numpy(small).permute(2, 0, 1))
    assert np.array_equal(pixels(r.content), ref.permute(1, 2, 0).numpy())
    digit = photo(16, 16, channels=1)
    r = client.post("/api/translate", data={"run": "cyclegan", "direction": "b2a"},
                    files={"image": ("d.png", png(digit))})
    assert r.status_code == 200
    ref = load_image_model(web_runs / "cyclegan").translate(torch.from_numpy(digit)[None], "b2a")
    assert np.array_equal(pixels(r.content), ref[0].numpy())


def _bomb() -> bytes:
    """A small PNG whose header says 800x800 px (above the test's 600x600 limit)."""
    return png(np.zeros((800, 800), np.uint8))


def _huge_bomb() -> bytes:
    """A 40 KB PNG of 20000x20000 px: past even Pillow's own bomb limit, which refuses it
    inside Image.open."""
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, "PNG")
    return buf.getvalue()


def _truncated() -> bytes:
    return png(photo(40, 30))[:120]


@pytest.mark.parametrize("url, form, files, status, message", [
    ("/api/upscale", {"run": "superres"}, {"image": b""}, 400, "the upload is empty"),
    ("/api/upscale", {"run": "superres"}, {"image": b"%PDF-1.4 hello"}, 415, "not an image"),
    ("/api/upscale", {"run": "superres"}, {"image": "big"}, 413, "larger than the upload limit"),
    ("/api/upscale", {"run": "superres"}, {"image": "hugebomb"}, 413, "decompression-bomb"),
    ("/api/translate", {"run": "cyclegan"}, {"image": "digit64"}, 413, "whole image at once"),
    ("/api/upscale", {"run": "superres"}, {"image": "bomb"}, 413, "decompression-bomb"),
    ("/api/upscale", {"run": "superres"}, {"image": "truncated"}, 400, "damaged"),
    ("/api/upscale", {"run": "superres"}, {"image": "wide"}, 413, "would be"),
    ("/api/inpaint", {"run": "inpaint"}, {"image": "ok", "mask": "small"}, 400, "must match"),
    ("/api/inpaint", {"run": "inpaint"}, {"image": "ok", "mask": "empty"}, 400,
     "nothing is painted"),
    ("/api/inpaint", {"run": "cgan"}, {"image": "ok", "mask": "ok"}, 400,
     "needs an image-to-image run"),
    ("/api/upscale", {"run": "inpaint"}, {"image": "ok"}, 400, "super-resolution"),
    ("/api/translate", {"run": "superres"}, {"image": "ok"}, 400, "translation"),
    ("/api/translate", {"run": "cyclegan", "direction": "up"}, {"image": "ok"}, 400, "a2b or b2a"),
    ("/api/upscale", {"run": "../superres"}, {"image": "ok"}, 400, "no such run"),
])
def test_bad_uploads_get_one_line_and_the_server_goes_on(client, url, form, files, status,
                                                         message):
    made = {"big": bytes(200_001), "bomb": _bomb(), "truncated": _truncated(),
            "ok": png(photo(40, 30)), "small": png(np.zeros((10, 10), np.uint8)),
            "empty": png(np.zeros((30, 40), np.uint8)), "wide": png(np.full((300, 300, 3), 128, np.uint8)),
            "hugebomb": _huge_bomb(), "digit64": png(photo(64, 64, channels=1))}
    files = {k: (f"{k}.png", made.get(v, v) if isinstance(v, str) else v)
             for k, v in files.items()}
    r = client.post(url, data=form, files=files)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert message in err and "\n" not in err
    assert client.get("/api/runs").status_code == 200


@pytest.mark.parametrize("body, message", [
    ({"run": "dcgan", "n": 0}, "n: give a whole number from 1 to 64"),
    ({"run": "dcgan", "n": 10**6}, "from 1 to 64"),
    ({"run": "dcgan", "seed": -1}, "seed"),
    ({"run": "dcgan", "seed": "7"}, "seed"),
    ({"run": "dcgan", "truncation": 1.5}, "truncation"),
    ({"run": "dcgan", "class": 3}, "needs a class-conditional model"),
    ({"run": "cgan", "class": 12}, "class: give a whole number from 0 to 9"),
    ({"run": "cgan", "class": "3"}, "class: give a whole number"),
    ({"run": "cgan", "class": 1.7}, "class: give a whole number"),
    ({"run": "cgan", "class": [1, 2]}, "class: give a whole number"),
    ({"run": "infogan", "codes": {"c0": 11}}, "0..9"),
    ({"run": "infogan", "codes": [1]}, "codes"),
    ({"run": "inpaint"}, "draws no samples"),
    ({}, "run: name one"),
])
def test_bad_generate_requests_are_refused(client, body, message):
    r = client.post("/api/generate", json=body)
    assert r.status_code == 400 and message in r.json()["error"]


def test_the_app_is_local_only_and_serves_every_file_itself(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    for ref in ["/static/app.js", "/static/app.css"]:
        assert ref in html and client.get(ref).status_code == 200
    assert "http:" not in html and "https:" not in html and "//" not in html.replace("<!", "")
    js = client.get("/static/app.js").text + client.get("/static/app.css").text
    assert "http" not in js and "url(" not in js and "@import" not in js
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for path in ["/docs", "/redoc", "/openapi.json", "/static/%2E%2E%2Fapp.py", "/static/x.js"]:
        assert client.get(path).status_code == 404, path
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400


def test_an_oversized_or_unsized_body_is_refused_before_it_is_read(client):
    r = client.post("/api/upscale", content=b"x", headers={"Content-Length": str(10**9),
                                                           "Content-Type": "image/png"})
    assert r.status_code == 413 and "above the limit" in r.json()["error"]

    def chunks():  # no Content-Length: a chunked body would slip past the size checks
        yield b'{"run": "dcgan"}'

    r = client.post("/api/generate", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 411 and "Content-Length" in r.json()["error"]


def test_another_sites_page_cannot_make_the_app_work(client):
    """A page elsewhere can post a form here (a 'simple' request); the Origin or
    Sec-Fetch-Site header gives it away."""
    body = {"run": "dcgan", "n": 4}
    for headers in ({"Origin": "https://example.com"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "null"}):
        r = client.post("/api/generate", json=body, headers=headers)
        assert r.status_code == 403 and "another site" in r.json()["error"], headers
    ok = client.post("/api/generate", json=body, headers={"Origin": "http://127.0.0.1",
                                                          "Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 200


def test_a_phone_photo_is_taken_upright_as_the_browser_shows_it(client):
    """EXIF orientation 6 (a portrait from a phone): browsers rotate it for display and the
    painted mask follows what was shown, so the server rotates it too."""
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    Image.fromarray(photo(60, 30)).save(buf, "JPEG", exif=exif)
    r = client.post("/api/upscale", data={"run": "superres"}, files={"image": ("p.jpg", buf.getvalue())})
    assert r.status_code == 200 and r.headers["x-image-size"] == f"{30 * 3}x{60 * 3}"
    mask = np.zeros((60, 30), np.uint8)
    mask[10:20, 5:15] = 255
    r = client.post("/api/inpaint", data={"run": "inpaint"},
                    files={"image": ("p.jpg", buf.getvalue()), "mask": ("m.png", png(mask))})
    assert r.status_code == 200, r.text


def test_an_unexpected_failure_is_an_answer_not_a_crash(web_runs, monkeypatch):
    client = TestClient(create_app(str(web_runs)), base_url="http://127.0.0.1",
                        raise_server_exceptions=False)

    def boom(*_args, **_kw):
        raise RuntimeError("simulated")

    monkeypatch.setattr(actions, "generate", boom)
    r = client.post("/api/generate", json={"run": "dcgan"})
    assert r.status_code == 500 and "simulated" in r.json()["error"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    monkeypatch.undo()
    assert client.post("/api/generate", json={"run": "dcgan"}).status_code == 200


def _post(url: str, body: dict | tuple) -> tuple[int, bytes]:
    if isinstance(body, tuple):  # multipart: (fields, files)
        import uuid

        boundary = uuid.uuid4().hex
        parts = []
        for k, v in body[0].items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                         f"{v}\r\n".encode())
        for k, v in body[1].items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; '
                         f'filename="{k}.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
                         + v + b"\r\n")
        data = b"".join(parts) + f"--{boundary}--\r\n".encode()
        ctype = f"multipart/form-data; boundary={boundary}"
    else:
        data, ctype = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(url, data, {"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=120) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_burst_from_several_tabs_gets_every_answer_right(live_app):
    """48 requests over 12 threads, mixed runs and kinds: each answer equals the answer to
    the same request sent alone."""
    small = png(photo(20, 14))
    mask = np.zeros((37, 45), np.uint8)
    mask[5:15, 5:25] = 255
    jobs = []
    for k in range(48):
        kind = k % 6
        if kind == 0:
            jobs.append(("/api/generate", {"run": "dcgan", "seed": k, "n": 9}))
        elif kind == 1:
            jobs.append(("/api/generate", {"run": "cgan", "seed": k, "n": 10}))
        elif kind == 2:
            jobs.append(("/api/interpolate", {"run": "dcgan", "seed_a": k, "seed_b": k + 1,
                                              "t": (k % 5) / 4}))
        elif kind == 3:
            jobs.append(("/api/upscale", ({"run": "superres"}, {"image": small})))
        elif kind == 4:
            jobs.append(("/api/inpaint", ({"run": "inpaint"},
                                          {"image": png(photo(45, 37, seed=k)),
                                           "mask": png(mask)})))
        else:
            jobs.append(("/api/generate", {"run": "dcgan", "seed": k, "n": 100}))  # refused
    alone = [_post(live_app + url, body) for url, body in jobs]
    with ThreadPoolExecutor(12) as pool:
        burst = list(pool.map(lambda job: _post(live_app + job[0], job[1]), jobs))
    assert [s for s, _ in alone] == [400 if k % 6 == 5 else 200 for k in range(48)]
    assert burst == alone


def _first_line(proc: subprocess.Popen, seconds: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    assert ready, "gankit serve printed nothing"
    return proc.stdout.readline()


def test_gankit_serve_listens_on_this_machine_only_by_default(web_runs, tmp_path):
    log = open(tmp_path / "stderr.txt", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "serve", str(web_runs), "--port",
                             "0"], stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = _first_line(proc, 120)
        assert "open http://127.0.0.1:" in line and "8 run(s)" in line, line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        runs = None
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=30) as r:
                    runs = json.loads(r.read())["runs"]
                break
            except OSError:
                time.sleep(0.1)
        assert runs is not None and len(runs) == 8
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], check=False,
                                   capture_output=True, text=True).stdout if _has("ss") else ""
        if listening:  # the local address column of the one listening socket
            assert [ln.split()[3] for ln in listening.splitlines()] == [f"127.0.0.1:{port}"]
        # the port is taken now: a second server says so in one line
        r = subprocess.run([sys.executable, "-m", "gankit", "serve", str(web_runs), "--port",
                            str(port)], check=False, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 2 and "cannot listen on 127.0.0.1" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _has(cmd: str) -> bool:
    import shutil

    return shutil.which(cmd) is not None


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nope"], "is not a folder"),
    (["{tmp}", "--max-upload-mb", "nan"], "positive, finite"),
    (["{tmp}", "--max-upload-mb", "0"], "positive, finite"),
    (["{tmp}", "--port", "70000"], "from 0 to 65535"),
])
def test_serve_refuses_bad_arguments_in_one_line(tmp_path, capsys, args, message):
    assert main(["serve", *[a.format(tmp=tmp_path) for a in args]]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_runs_are_found_below_the_folder_but_not_inside_other_runs(tmp_path):
    from gankit.serve.runs import find_runs

    for rel in ["a", "group/b", "a/rollbacks/1", "group/c/d"]:
        (tmp_path / rel / "checkpoints").mkdir(parents=True)
        (tmp_path / rel / "checkpoints" / "last.pt").write_bytes(b"")
    assert list(find_runs(tmp_path)) == ["a", "group/b", "group/c/d"]
    assert list(find_runs(tmp_path / "a")) == ["a"]  # RUNS_DIR may be one run
