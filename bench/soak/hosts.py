"""The hosts the soak's fleet talks to, on 127.0.0.1: a feed host that misbehaves on a timeline, and a Slack
webhook that goes down for a while and keeps every message it was sent."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.soak.fleet import Feed

# Parts of the soak (0 at its start, 1 at its end) in which a behaviour shows.
VANISHED = (0.30, 0.55)
UNAVAILABLE = (0.56, 0.80)
SHRUNK_FROM = 0.40
DRIP_PIECES, DRIP_PAUSE = 8, 0.5


def within(span: tuple[float, float], phase: float) -> bool:
    return span[0] <= phase < span[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Host:
    """A server on a free port of 127.0.0.1, answering in threads of its own until closed."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Quiet(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class FeedHost(_Host):
    """Serves each feed of the fleet at its path, as its behaviour says at this phase of the soak."""

    def __init__(self, feeds: list[Feed], phase: Callable[[], float]) -> None:
        self.feeds = {feed.path: feed for feed in feeds}
        self.phase = phase
        self.bodies = {feed.path: feed.body(feed.number) for feed in feeds}
        self.halves = {feed.path: feed.body(feed.number, feed.items // 2) for feed in feeds
                       if feed.behaviour == "shrinks"}
        self.requests: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()
        self._lock = threading.Lock()
        host = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                host.answer(self)

        super().__init__(Handler)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        feed = self.feeds.get(handler.path)
        if feed is None:
            return self._status(handler, 404, "unknown")
        with self._lock:
            self.requests[feed.name] += 1
            number = self.requests[feed.name]
        phase = self.phase()
        if feed.behaviour == "vanishes" and within(VANISHED, phase):
            return self._status(handler, 404, "vanished")
        if feed.behaviour == "flaky" and within(UNAVAILABLE, phase):
            return self._status(handler, 503, "unavailable", {"Retry-After": "2"})
        body = self._body(feed, number, phase)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        validated = feed.behaviour != "truncates"  # it sends no ETag: every run downloads it whole, or half
        if validated and handler.headers.get("If-None-Match") == etag:
            return self._status(handler, 304, "unchanged", {"ETag": etag})
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        if validated:
            handler.send_header("ETag", etag)
        handler.end_headers()
        with contextlib.suppress(OSError):  # the client gave up: its run says so
            self._send(handler, feed, number, body)

    def _body(self, feed: Feed, number: int, phase: float) -> bytes:
        if feed.behaviour == "changes":
            return feed.body(feed.number * 100_000 + number)
        if feed.behaviour == "shrinks" and phase >= SHRUNK_FROM:
            return self.halves[feed.path]
        return self.bodies[feed.path]

    def _send(self, handler: BaseHTTPRequestHandler, feed: Feed, number: int, body: bytes) -> None:
        if feed.behaviour == "truncates" and number % 2 == 0:
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.connection.shutdown(socket.SHUT_RDWR)
            self.answers["truncated"] += 1
            return
        if feed.behaviour == "drip":
            step = -(-len(body) // DRIP_PIECES)
            for start in range(0, len(body), step):
                handler.wfile.write(body[start:start + step])
                handler.wfile.flush()
                time.sleep(DRIP_PAUSE)
            self.answers["dripped"] += 1
            return
        handler.wfile.write(body)
        self.answers["sent"] += 1

    def _status(self, handler: BaseHTTPRequestHandler, status: int, what: str,
                headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        self.answers[what] += 1


@dataclass(frozen=True)
class Message:
    """A message Slack received: when, for which feed, and the state it announced (``healthy`` for a
    recovery, else the first problem the alert names)."""

    at: float
    feed: str
    state: str


# The alert's headline names the first problem so (feedcheck.reports.alerts).
_HEADLINES = {"could not be fetched or read": "failed", "was not published": "refused",
              "has too many items with errors": "error_share", "has a catalog match rate": "match_rate",
              "has recovered": "healthy"}


class SlackSink(_Host):
    """An incoming-webhook endpoint that answers 503 while it is down and keeps what it received."""

    def __init__(self) -> None:
        self.down = False
        self.messages: list[Message] = []
        self.refused = 0
        sink = self

        class Handler(_Quiet):
            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if sink.down:
                    sink.refused += 1
                    self.send_response(503)
                else:
                    sink.messages.append(_message(json.loads(payload)["text"]))
                    self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return super().url + "/services/T0SOAK/B0SOAK/soak"


def _message(headline: str) -> Message:
    words = headline.split()
    state = next((state for phrase, state in _HEADLINES.items() if phrase in headline), "unknown")
    return Message(time.time(), words[1] if len(words) > 1 else "", state)
