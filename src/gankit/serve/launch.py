"""Starting the server for `gankit serve`: the address checked before anything loads, so a
taken port or a foreign address is one clear line rather than a server log."""

from __future__ import annotations

import math
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gankit.errors import GankitError
from gankit.serve.uploads import Limits

LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")


def is_local(host: str) -> bool:
    return host in LOCAL_NAMES


def limits(max_upload_mb: float, max_pixels: int) -> Limits:
    """--max-upload-mb and --max-pixels as Limits, checked."""
    if not math.isfinite(max_upload_mb) or max_upload_mb <= 0 or max_pixels <= 0:
        raise GankitError(f"--max-upload-mb {max_upload_mb:g} and --max-pixels {max_pixels}: "
                          "give positive, finite numbers")
    return Limits(int(max_upload_mb * 2**20), max_pixels,
                  min(Limits.max_whole_pixels, max_pixels))


def free_port(host: str, port: int) -> int:
    """`port` (0 = any free one) if it can be listened on at `host`; a GankitError if not."""
    if not 0 <= port <= 65535:
        raise GankitError(f"--port {port}: give a port from 0 to 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.create_server((host, port), family=family) as sock:
            return sock.getsockname()[1]
    except OSError as exc:
        raise GankitError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose "
                          "another --port or --host") from None


def serve(runs_dir: str, host: str, port: int, lim: Limits, device: str) -> None:
    """Run the app until Ctrl+C."""
    import uvicorn

    from gankit.serve.app import create_app
    from gankit.serve.runs import find_runs

    root = Path(runs_dir).expanduser()
    if not root.is_dir():
        raise GankitError(f"RUNS_DIR {root} is not a folder")
    port = free_port(host, port)
    app = create_app(str(root), lim, device, None if is_local(host) else ["*"])
    shown = f"[{host}]" if ":" in host else ("127.0.0.1" if host == "localhost" else host)
    print(f"gankit serve: {len(find_runs(root))} run(s) below {root}; open http://{shown}:"
          f"{port}/  (Ctrl+C stops)", flush=True)
    if not is_local(host):
        print(f"gankit serve: listening on {host}, reachable from other machines; the "
              "default 127.0.0.1 keeps it on this one", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@dataclass
class Background:
    """The app running in a thread of this process (a notebook, a test, a benchmark)."""
    url: str
    server: object  # uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def background(runs_dir: str, lim: Limits | None = None, device: str = "cpu",
               timeout_s: float = 60.0) -> Background:
    """Start the app on 127.0.0.1 at a free port in a daemon thread; returns its URL."""
    import uvicorn

    from gankit.serve.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(runs_dir, lim, device), host="127.0.0.1",
                                           port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise GankitError("the web app did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return Background(f"http://127.0.0.1:{port}", server, thread)
