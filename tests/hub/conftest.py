"""A real HTTP server on 127.0.0.1 whose misbehaviour each test chooses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Route:
    """What the server does for one path."""

    body: bytes
    content_type: str = "application/octet-stream"
    honour_range: bool = True
    fail_first: int = 0  # answer 500 this many times first
    truncate_first: int = 0  # send half the body then drop the connection, this many times
    delay: float = 0.0  # seconds to wait before sending the body
    status: int = 200
    during: Callable[[], None] | None = None  # called half way through every body
    send_length: bool = True  # False: no Content-Length, the body ends when the connection closes
    content_encoding: str | None = None  # a Content-Encoding header to send (the body is not changed)
    trickle: tuple[int, float] | None = None  # (bytes, seconds): send the body this slowly
    served: int = 0


@dataclass
class Request:
    method: str
    path: str
    range: str | None


@dataclass
class FileServer:
    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def add(self, path: str, body: bytes, **options: object) -> str:
        self.routes[path] = Route(body, **options)  # type: ignore[arg-type]
        return self.base + path

    def gets(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path and r.method == "GET"]


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            range_header = self.headers.get("Range")
            server.requests.append(Request("GET", self.path, range_header))
            route = server.routes.get(self.path)
            if route is None:
                self.send_error(404)
                return
            if route.status != 200:
                self.send_error(route.status)
                return
            if route.fail_first > 0:
                route.fail_first -= 1
                self.send_error(500)
                return
            body, status, start = route.body, 200, 0
            if range_header and route.honour_range:
                start = int(range_header.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", route.content_type)
            if route.send_length:
                self.send_header("Content-Length", str(len(body) - start))
            if route.content_encoding:
                self.send_header("Content-Encoding", route.content_encoding)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            try:
                self._send_body(route, body[start:])
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a deadline, a killed process): expected in fault tests

        def _send_body(self, route: Route, payload: bytes) -> None:
            if route.trickle is not None:
                size, pause = route.trickle
                for at in range(0, len(payload), size):
                    self.wfile.write(payload[at : at + size])
                    self.wfile.flush()
                    time.sleep(pause)
                route.served += 1
                return
            half = len(payload) // 2
            if route.delay:
                time.sleep(route.delay)
            self.wfile.write(payload[:half])
            self.wfile.flush()
            if route.during is not None:
                route.during()
            if route.truncate_first > 0:
                route.truncate_first -= 1
                self.close_connection = True
                return
            self.wfile.write(payload[half:])
            route.served += 1

    return Handler


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    """An HTTP server on an ephemeral 127.0.0.1 port, stopped after the test."""
    state = FileServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def _fast_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short retry delays, no progress bar, and no proxy between us and 127.0.0.1."""
    monkeypatch.setenv("XRV_DOWNLOAD_BACKOFF", "0.01")
    monkeypatch.setenv("XRV_DOWNLOAD_ATTEMPTS", "4")
    monkeypatch.setenv("XRV_DOWNLOAD_TIMEOUT", "5")
    monkeypatch.setenv("XRV_NO_PROGRESS", "1")
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
