"""Feed credentials (a header, a password, a token in the URL's query) and a Slack webhook URL are used where
they are meant for, and appear in no report, finding, log line, artifact, flow parameter or exception: through
the CLI (with --verbose), the library (at DEBUG) and the flows (with urllib3's request lines in the run's logs).
The alert goes to a port where nothing listens, so its failure is reported too, and must not show the webhook
either.  AWS keys used to publish to S3, right or wrong, appear nowhere either."""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from feedcheck import Auth, check_feed
from tests.adversarial.harness import forked, fresh, held_by_prefect
from tests.conftest import FEEDS, FeedServer, run, send
from tests.servers import S3Keys

TOKEN = "SENTINEL-TOKEN-3b9f"
PASSWORD = "SENTINEL-PASSWORD-e02a"
QUERY = "SENTINEL-QUERY-77ac"
HOOK = "SENTINEL-HOOK-c41d"
AWS_SECRET = "SENTINEL-AWS-SECRET-5d1e"
SECRETS = (TOKEN, PASSWORD, QUERY, HOOK)


def _feed_behind_auth(server: FeedServer) -> str:
    """A feed with too many errors to publish (so the alert fires), only for the right credentials."""
    body = (FEEDS / "tiktok_defects.csv").read_bytes()
    basic = "Basic " + base64.b64encode(f"shop:{PASSWORD}".encode()).decode()

    def serve(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("Authorization") in (f"Bearer {TOKEN}", basic):
            send(handler, 200, body, Content_Type="text/csv")
        else:
            send(handler, 401, b"who are you?")

    server.routes["/feed.csv"] = serve
    return server.url(f"/feed.csv?token={QUERY}")


def _closed_hook() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/services/T000/B000/{HOOK}"


def _everything_in(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file())


def _no_secret_in(text: str) -> None:
    assert [secret for secret in SECRETS if secret in text] == []


def test_the_cli_uses_the_credentials_and_shows_none_of_them(tmp_path: Path, server: FeedServer) -> None:
    url = _feed_behind_auth(server)
    out = tmp_path / "out"
    done = forked("cli", ["check", url, "--channel", "tiktok", "--out", str(out), "--verbose",
                          "--header-env", "Authorization=FEED_TOKEN", "--alert", "env:SHOP_HOOK"],
                  timeout=120, cwd=tmp_path, tmpdir=fresh(tmp_path / "tmp"),
                  env={"FEED_TOKEN": f"Bearer {TOKEN}", "SHOP_HOOK": _closed_hook()})
    assert done.exit_code == 3, done.stderr  # fetched with the token, then refused by the quality gate
    assert server.hits["/feed.csv"] == 1
    assert '"sent": false' in (out / "report.json").read_text()  # the alert was tried, and failed
    _no_secret_in(_everything_in(out) + done.stdout + done.stderr)


@pytest.mark.parametrize("auth", ["header", "basic"])
def test_the_library_uses_the_credentials_and_shows_none_of_them(
        server: FeedServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, auth: str) -> None:
    monkeypatch.setenv("FEED_TOKEN", f"Bearer {TOKEN}")
    monkeypatch.setenv("FEED_USER", "shop")
    monkeypatch.setenv("FEED_PASSWORD", PASSWORD)
    credentials = (Auth.from_env({"Authorization": "FEED_TOKEN"}) if auth == "header"
                   else Auth.from_env({}, ("FEED_USER", "FEED_PASSWORD")))
    url = _feed_behind_auth(server)
    with caplog.at_level(logging.DEBUG):
        report = check_feed(url, "tiktok", auth=credentials)
        refused = check_feed(url, "tiktok")  # without credentials: a 401, reported
    assert report.items_total > 0 and refused.log.fatal is not None and "401" in refused.log.fatal.message
    _no_secret_in(str(report.to_dict()) + str(refused.to_dict()) + caplog.text
                  + "".join(f.message for f in [*report.log, *refused.log]) + repr(credentials))


@pytest.fixture
def http_logs_in_prefect() -> Iterator[None]:
    """What ``PREFECT_LOGGING_EXTRA_LOGGERS=urllib3`` does, at DEBUG (as ops set it to see a fetch's requests):
    urllib3's lines, one for each request with its path and query, go to the flow run's logs on the server."""
    from prefect.logging.handlers import APILogHandler

    logger, handler = logging.getLogger("urllib3"), APILogHandler()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.usefixtures("prefect_api", "http_logs_in_prefect")
def test_the_flows_use_the_credentials_and_show_none_of_them(tmp_path: Path, server: FeedServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from feedcheck.flows import check_all_feeds

    monkeypatch.setenv("FEED_TOKEN", f"Bearer {TOKEN}")
    monkeypatch.setenv("SHOP_HOOK", _closed_hook())
    config = tmp_path / "feeds.toml"
    config.write_text(f'[defaults]\nout = "{tmp_path / "out"}"\n\n[[feed]]\nname = "guarded"\n'
                      f'source = "{_feed_behind_auth(server)}"\nauth = {{ header_env = {{ Authorization = '
                      f'"FEED_TOKEN" }} }}\nalerts = {{ slack_webhook = "env:SHOP_HOOK" }}\n')
    state = check_all_feeds(str(config), return_state=True)
    assert state.is_failed() and server.hits["/feed.csv"] == 1
    seen = held_by_prefect(state.state_details.flow_run_id)
    assert '"GET /feed.csv?' in seen, "urllib3's request line is missing"
    _no_secret_in(_everything_in(tmp_path / "out") + seen + str(state))


def test_publishing_to_s3_shows_none_of_the_aws_credentials(tmp_path: Path, s3_guarded: str, s3_iam: S3Keys,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"{s3_guarded}feeds/shop/"
    published = run("check", str(FEEDS / "tiktok_clean.csv"), "--out", url, "--work", str(tmp_path / "ok"), "-v")
    assert published.returncode == 0, published.stderr
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    refused = run("check", str(FEEDS / "tiktok_clean.csv"), "--out", url, "--work", str(tmp_path / "bad"), "-v")
    assert refused.returncode == 3 and "publish.failed" in (tmp_path / "bad" / "findings.csv").read_text()
    shown = published.stdout + published.stderr + refused.stdout + refused.stderr + _everything_in(tmp_path)
    assert [secret for secret in (AWS_SECRET, s3_iam.writer[1]) if secret in shown] == []
