"""Shared test helpers: fixture paths, a real HTTP server on 127.0.0.1, finding tuples."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator, FormatChecker

from feedcheck.clock import NOW_VARIABLE
from feedcheck.findings import FindingLog

# The moment every rule that compares dates judges at, in this process and in every child, flow and server it
# starts, so that no verdict changes with the calendar.  The tests of the clock itself give or remove it.
TEST_NOW = "2026-11-20T12:00:00+00:00"
os.environ[NOW_VARIABLE] = TEST_NOW

pytest_plugins = ["tests.servers"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FEEDS = FIXTURES / "feeds"
REPORT_SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "report.schema.json"
_VALIDATOR = Draft202012Validator(json.loads(REPORT_SCHEMA.read_text()), format_checker=FormatChecker())


def schema_problems(report: object) -> list[str]:
    """Where ``report`` breaks docs/report.schema.json (empty when it follows it)."""
    return [f"{error.json_path}: {error.message}" for error in _VALIDATOR.iter_errors(report)]


@pytest.fixture(scope="session", autouse=True)
def every_report_matches_the_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the session, every report.json any test wrote must follow the documented schema."""
    yield
    problems = [
        f"{path}: {problem}"
        for path in sorted(tmp_path_factory.getbasetemp().rglob("report.json"))
        for problem in schema_problems(json.loads(path.read_text()))
    ]
    assert problems == []


# CI replays the same examples every run, so main stays green on what it has passed; the long profile, run on
# demand, draws new ones to look for what no one has met yet.
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

Handler = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (byte caps, deadlines) are expected; other errors still print."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FeedServer:
    """A real HTTP server on 127.0.0.1 whose routes are plain functions of the request."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: dict[str, int] = {}
        self.requests: list[dict[str, str]] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                request = {"path": self.path, **{k: v for k, v in self.headers.items()}}
                if self.command == "POST":
                    request["body"] = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                server.requests.append(request)
                route = server.routes.get(path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route(self)

            do_POST = do_GET  # noqa: N815 - webhooks (Slack) are POSTed; the body is kept in requests

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = _QuietServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes) -> str:
        """Serve ``body`` at ``path`` whole to every request, with no validator to make a conditional request
        with (a feed that is read each time, and that the check's cache spares); its URL."""
        self.routes[path] = lambda handler: send(handler, 200, body)
        return self.url(path)

    def serve_with_etag(self, path: str, body: bytes, etag: str, **headers: str) -> str:
        """Serve ``body`` at ``path`` with ``etag``, and a 304 to a request that sends the ETag back; its URL."""

        def conditional(handler: BaseHTTPRequestHandler) -> None:
            if handler.headers.get("If-None-Match") == etag:
                send(handler, 304, ETag=etag)
            else:
                send(handler, 200, body, ETag=etag, **headers)

        self.routes[path] = conditional
        return self.url(path)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """``feedcheck ARGS`` in a child process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "feedcheck", *args], capture_output=True, text=True, timeout=120)


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    """Answer a request with a status, headers (underscores become dashes) and a body."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    if "Content_Length" not in headers:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    yield srv
    srv.close()


def tuples(log: FindingLog, *codes: str) -> list[tuple[int | None, str, str]]:
    """Findings as sorted (row, field, code) tuples, optionally only some codes."""
    return sorted(
        ((f.row, f.field, f.code) for f in log if not codes or f.code in codes),
        key=lambda t: (t[0] or 0, t[1], t[2]),
    )


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect server and database for every flow test of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
    with warnings.catch_warnings():  # Prefect's own client connections to the server just stopped
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
