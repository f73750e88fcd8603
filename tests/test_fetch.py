"""Fetching against a real HTTP server on 127.0.0.1: retries, deadlines, caps, 304, redirects."""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feedcheck import FetchError, FetchLimits, ReadLimits, Validators, check_feed, fetch
from feedcheck.sources.fetch import Auth
from tests.conftest import FEEDS, FeedServer, send

FAST = FetchLimits(backoff=0.01, retry_after_max=1, connect_timeout=2, read_timeout=2, deadline=10)
BODY = (FEEDS / "tiktok_clean.csv").read_bytes()


def serve_feed(handler) -> None:
    send(handler, 200, BODY, Content_Type="text/csv", ETag='"v1"', Last_Modified="Wed, 25 Nov 2026 10:00:00 GMT")


def test_plain_fetch_spools_to_a_temp_file(server: FeedServer) -> None:
    server.routes["/feed.csv"] = serve_feed
    fetched = fetch(server.url("/feed.csv"), limits=FAST)
    try:
        assert fetched.path is not None and fetched.path.read_bytes() == BODY
        assert fetched.validators == Validators('"v1"', "Wed, 25 Nov 2026 10:00:00 GMT")
        assert fetched.charset is None  # text/csv without charset: never guess ISO-8859-1
        assert server.requests[0]["Accept-Encoding"] == "gzip"
    finally:
        fetched.cleanup()
    assert not fetched.path.exists()


def test_retries_after_503_then_succeeds(server: FeedServer) -> None:
    def flaky(handler) -> None:
        if server.hits["/feed.csv"] < 3:
            send(handler, 503, b"busy", Retry_After="0")
        else:
            serve_feed(handler)

    server.routes["/feed.csv"] = flaky
    fetched = fetch(server.url("/feed.csv"), limits=FAST)
    fetched.cleanup()
    assert server.hits["/feed.csv"] == 3


def test_huge_retry_after_is_capped(server: FeedServer) -> None:
    server.routes["/feed.csv"] = lambda h: send(h, 503, b"busy", Retry_After="100000")
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(server.url("/feed.csv"), limits=FetchLimits(retries=2, retry_after_max=1, backoff=0.01))
    assert time.monotonic() - started < 6
    assert caught.value.finding.code == "fetch.status" and "503" in caught.value.finding.message
    assert server.hits["/feed.csv"] == 3


def test_dripping_server_stopped_by_the_deadline(server: FeedServer) -> None:
    def drip(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        try:
            for _ in range(40):
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    server.routes["/slow"] = drip
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(server.url("/slow"), limits=FetchLimits(read_timeout=2, deadline=1, retries=0))
    assert caught.value.finding.code == "fetch.timeout"
    assert time.monotonic() - started < 2.5


def test_conditional_get_reports_unchanged(server: FeedServer) -> None:
    def conditional(handler) -> None:
        if handler.headers.get("If-None-Match") == '"v1"':
            send(handler, 304)
        else:
            serve_feed(handler)

    server.routes["/feed.csv"] = conditional
    report = check_feed(server.url("/feed.csv"), "tiktok", fetch_limits=FAST, previous=Validators('"v1"', None))
    assert report.status == "unchanged" and report.exit_code == 0
    assert report.items_total == 0
    assert [f.code for f in report.log] == ["fetch.unchanged"]


def test_byte_cap_on_bytes_read_and_on_declared_length(server: FeedServer) -> None:
    server.routes["/big"] = lambda h: send(h, 200, b"x" * 100_000)
    server.routes["/liar"] = lambda h: send(h, 200, b"", Content_Length="10737418240")
    limits = FetchLimits(max_bytes=10_000, backoff=0.01)
    for path in ("/big", "/liar"):
        with pytest.raises(FetchError) as caught:
            fetch(server.url(path), limits=limits)
        assert caught.value.finding.code == "fetch.too_large"


def test_gzip_content_encoding_is_decoded_under_a_cap(server: FeedServer) -> None:
    server.routes["/feed.csv"] = lambda h: send(h, 200, gzip.compress(BODY), Content_Encoding="gzip")
    report = check_feed(server.url("/feed.csv"), "tiktok", fetch_limits=FAST)
    assert report.status == "ok" and report.items_total == 8 and report.info.compressed

    bomb = gzip.compress(b"id,title\n" + b"x" * 50_000_000)
    server.routes["/bomb.csv"] = lambda h: send(h, 200, bomb, Content_Encoding="gzip")
    started = time.monotonic()
    report = check_feed(server.url("/bomb.csv"), "tiktok", fetch_limits=FAST,
                        read_limits=ReadLimits(max_decompressed_bytes=1_000_000))
    assert report.status == "fatal" and report.log.fatal.code == "decode.too_large"
    assert time.monotonic() - started < 5


def test_redirects_followed_checked_and_bounded(server: FeedServer) -> None:
    server.routes["/feed.csv"] = serve_feed
    server.routes["/old"] = lambda h: send(h, 301, Location="/feed.csv")
    server.routes["/loop"] = lambda h: send(h, 302, Location="/loop")
    server.routes["/to-file"] = lambda h: send(h, 302, Location="file:///etc/passwd")
    server.routes["/to-metadata"] = lambda h: send(h, 302, Location="http://169.254.169.254/latest/meta-data/")
    fetched = fetch(server.url("/old"), limits=FAST)
    assert fetched.path.read_bytes() == BODY
    fetched.cleanup()
    expected = {"/loop": "fetch.too_many_redirects", "/to-file": "fetch.blocked", "/to-metadata": "fetch.blocked"}
    for path, code in expected.items():
        with pytest.raises(FetchError) as caught:
            fetch(server.url(path), limits=FAST)
        assert caught.value.finding.code == code
    assert server.hits["/loop"] == FAST.max_redirects + 1


def test_auth_header_from_environment(server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def protected(handler) -> None:
        if handler.headers.get("Authorization") == "Bearer s3cret-token":
            serve_feed(handler)
        else:
            send(handler, 401)

    server.routes["/private.csv"] = protected
    with pytest.raises(FetchError) as caught:
        fetch(server.url("/private.csv"), limits=FAST)
    assert "401" in caught.value.finding.message and "credentials" in caught.value.finding.message
    monkeypatch.setenv("FEED_TOKEN", "Bearer s3cret-token")
    fetched = fetch(server.url("/private.csv"), limits=FAST, auth=Auth.from_env({"Authorization": "FEED_TOKEN"}))
    fetched.cleanup()
    with pytest.raises(FetchError) as caught:
        Auth.from_env({"Authorization": "NOT_SET_ANYWHERE"})
    assert "NOT_SET_ANYWHERE" in caught.value.finding.message


def test_unreachable_server_message_hides_credentials() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://bob:hunter2@127.0.0.1:{port}/feed.csv?token=SENTINEL"
    report = check_feed(url, "tiktok", fetch_limits=FetchLimits(retries=0, connect_timeout=1))
    assert report.status == "fatal" and report.log.fatal.code == "fetch.failed"
    text = str(report.to_dict()) + " ".join(f.message for f in report.log)
    assert "hunter2" not in text and "SENTINEL" not in text and "bob" not in text


def test_local_paths_and_file_urls(tmp_path: Path) -> None:
    assert fetch(FEEDS / "tiktok_clean.csv").path == FEEDS / "tiktok_clean.csv"
    assert fetch((FEEDS / "tiktok_clean.csv").as_uri()).sha256 == fetch(FEEDS / "tiktok_clean.csv").sha256
    for missing in (tmp_path / "nope.csv", tmp_path):
        with pytest.raises(FetchError) as caught:
            fetch(missing)
        assert caught.value.finding.code == "fetch.not_found"
    with pytest.raises(FetchError) as caught:
        fetch("ftp://example.invalid/feed.csv")
    assert caught.value.finding.code == "fetch.blocked"


def test_a_file_whose_bytes_are_those_sent_last_is_not_modified(tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_bytes((FEEDS / "tiktok_clean.csv").read_bytes())
    first = fetch(feed)
    assert first.validators.etag == f'"sha256:{first.sha256}"' and not first.unchanged
    assert fetch(feed, previous=first.validators).unchanged
    feed.write_bytes(feed.read_bytes() + b"\n")  # a byte more: read again
    assert not fetch(feed, previous=first.validators).unchanged
    assert not fetch(feed.as_uri(), previous=Validators('"v1"', None)).unchanged


def test_only_failures_that_may_pass_are_marked_transient(server: FeedServer) -> None:
    """A scheduler retries transient failures later; a 404, a 401 or a redirect loop would fail the same way."""
    server.routes["/busy"] = lambda h: send(h, 503, b"busy", Retry_After="0")
    server.routes["/private"] = lambda h: send(h, 401)
    server.routes["/loop"] = lambda h: send(h, 302, Location="/loop")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/feed.csv"
    expected = {server.url("/busy"): True, closed: True, server.url("/missing"): False,
                server.url("/private"): False, server.url("/loop"): False}
    for url, transient in expected.items():
        with pytest.raises(FetchError) as caught:
            fetch(url, limits=FetchLimits(retries=0, connect_timeout=1))
        assert caught.value.transient is transient, (url, caught.value.finding.code)


def test_the_next_run_removes_the_download_a_killed_run_left_in_the_temporary_folder(
        tmp_path: Path, server: FeedServer) -> None:
    slow = True

    def feed(handler) -> None:  # the first answer takes minutes: the run is killed while it downloads
        body = (FEEDS / "tiktok_clean.csv").read_bytes()
        if not slow:
            return send(handler, 200, body)
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body) * 100))
        handler.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(300):
                handler.wfile.write(body[:100])
                handler.wfile.flush()
                time.sleep(1)

    server.routes["/feed.csv"] = feed
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    check = [sys.executable, "-m", "feedcheck", "check", server.url("/feed.csv"), "--out", str(tmp_path / "out"),
             "--name", "shop"]
    env = os.environ | {"TMPDIR": str(temporary)}
    with subprocess.Popen(check, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as killed:
        deadline = time.monotonic() + 60
        while not list(temporary.rglob("*.download")) and time.monotonic() < deadline:
            time.sleep(0.2)
        killed.kill()
    assert [path.suffix for path in temporary.rglob("*.download")] == [".download"]  # what the kill left
    slow = False
    assert subprocess.run(check, env=env, capture_output=True, timeout=120).returncode == 0
    assert [path for path in temporary.rglob("*") if path.is_file()] == []
