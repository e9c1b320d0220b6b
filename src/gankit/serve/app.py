"""The web app: FastAPI routes over serve.actions, the page's own files, and the guards that
keep it local and sturdy.

- Every file the page uses is served from here; a Content-Security-Policy tells the browser
  to fetch nothing from anywhere else, and FastAPI's API docs (which load from a CDN) are off.
- A request's Host must name this machine when bound to 127.0.0.1 (DNS-rebinding guard).
- Every refused request gets {"error": one line} and a 4xx status; the server goes on. A
  POST from another site's page (Origin, Sec-Fetch-Site) or without a Content-Length is
  refused before its body is read.
- Requests run in FastAPI's thread pool; one run serves one request at a time (its lock),
  different runs in parallel.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Body, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from gankit.errors import GankitError
from gankit.serve import actions
from gankit.serve.runs import Catalog
from gankit.serve.uploads import Limits, UploadError, size_text

LOG = logging.getLogger("gankit.serve")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]  # Host headers accepted by default


def _static(name: str) -> bytes:
    return resources.files("gankit.serve").joinpath("static", name).read_bytes()


def _result(res: actions.Result) -> Response:
    return Response(res.data, media_type=res.media_type, headers={
        "Content-Disposition": f'inline; filename="{res.filename}"',
        "X-Image-Size": f"{res.size[0]}x{res.size[1]}", "Cache-Control": "no-store"})


def _read(upload: UploadFile, limits: Limits) -> bytes:
    """At most max_bytes + 1 bytes of an upload: enough to refuse an oversized one."""
    return upload.file.read(limits.max_bytes + 1)


def _refusal(request: Request, limits: Limits) -> tuple[int, str] | None:
    """(status, message) for a request refused before it is read: another site's page
    posting here (any page the user visits could otherwise start heavy work), a body of
    unknown or excessive length (a chunked body would slip past the size limits)."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site" or (
            origin is not None and urlsplit(origin).netloc != request.headers.get("host")):
        return 403, f"requests from another site ({origin or 'cross-site'}) are refused"
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return 411, "send the request with a Content-Length"
    if int(length) > 2 * limits.max_bytes + 2**16:
        return 413, (f"the upload is {size_text(int(length))}, above the limit of "
                     f"{size_text(limits.max_bytes)} a file")
    return None


def create_app(runs_dir: str, limits: Limits | None = None, device: str = "cpu",
               allowed_hosts: list[str] | None = None) -> FastAPI:
    """The app for the runs below `runs_dir`; `allowed_hosts` None = this machine's names."""
    limits = limits or Limits()
    catalog = Catalog(runs_dir, device)
    app = FastAPI(title="gankit", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or LOCAL_HOSTS)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]],
                    ) -> Response:
        refusal = _refusal(request, limits)
        if refusal is not None:
            response: Response = JSONResponse({"error": refusal[1]}, refusal[0])
        else:
            try:
                response = await call_next(request)
            except Exception as exc:  # any failure is an answer, not a crash
                LOG.exception("request failed")
                response = JSONResponse({"error": f"internal error ({type(exc).__name__}: "
                                         f"{exc}); the server goes on"}, 500)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.exception_handler(GankitError)
    async def refused(_: Request, exc: GankitError) -> JSONResponse:
        status = exc.status if isinstance(exc, UploadError) else 400
        return JSONResponse({"error": str(exc)}, status)

    @app.exception_handler(RequestValidationError)
    async def malformed(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'malformed request')}"}, 400)

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(_static("index.html"))

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            return JSONResponse({"error": f"no file {name}"}, 404)
        return Response(_static(name), media_type=STATIC[name])

    @app.get("/api/runs")
    def runs() -> dict:
        listing = catalog.describe_all()
        return {"root": str(catalog.root), "runs": listing.runs, "problems": listing.problems,
                "limits": {"max_bytes": limits.max_bytes, "max_pixels": limits.max_pixels}}

    def _run(body: dict, fn: Callable[..., actions.Result], *args: object) -> Response:
        if not isinstance(body.get("run"), str):
            raise GankitError("run: name one of the runs listed by /api/runs")
        served = catalog.get(body["run"])
        with served.lock:
            return _result(fn(served.pipe, *args))

    @app.post("/api/generate")
    def generate(body: Annotated[dict, Body()]) -> Response:
        cls = body.get("class")
        codes = body.get("codes") or {}
        if not isinstance(codes, dict):
            raise GankitError("codes: give an object of code name -> value")
        return _run(body, actions.generate, body.get("seed", 0), body.get("n", 16), cls, codes,
                    body.get("truncation"))

    @app.post("/api/interpolate")
    def interpolate(body: Annotated[dict, Body()]) -> Response:
        return _run(body, actions.interpolation, body.get("seed_a", 0), body.get("seed_b", 1),
                    body.get("t", 0.5))

    @app.post("/api/clip")
    def clip(body: Annotated[dict, Body()]) -> Response:
        return _run(body, actions.clip, body.get("seed", 0), body.get("n", 4),
                    body.get("frames"), body.get("truncation"))

    @app.post("/api/inpaint")
    def inpaint(run: Annotated[str, Form()], image: Annotated[UploadFile, File()],
                mask: Annotated[UploadFile, File()]) -> Response:
        return _run({"run": run}, actions.inpaint, _read(image, limits),
                    _read(mask, limits), limits)

    @app.post("/api/upscale")
    def upscale(run: Annotated[str, Form()], image: Annotated[UploadFile, File()]) -> Response:
        return _run({"run": run}, actions.upscale, _read(image, limits), limits)

    @app.post("/api/translate")
    def translate(run: Annotated[str, Form()], image: Annotated[UploadFile, File()],
                  direction: Annotated[str, Form()] = "a2b") -> Response:
        return _run({"run": run}, actions.translate, _read(image, limits), direction,
                    limits)

    return app
