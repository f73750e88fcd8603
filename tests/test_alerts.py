"""Slack alerts against a real HTTP server on 127.0.0.1: content, no spam, recovery, retries, outages, secrecy."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest

from feedcheck.errors import ConfigError, ExitCode
from feedcheck.reports.alerts import alert_on_change, feed_state, resolve_webhook, send
from tests.conftest import FEEDS, FeedServer, run
from tests.conftest import send as answer


def slack(server: FeedServer, statuses: list[int] | None = None) -> str:
    """A Slack-like webhook answering the given statuses in turn (then 200 ok)."""
    queue = list(statuses or [])

    def hook(handler) -> None:
        status = queue.pop(0) if queue else 200
        answer(handler, status, b"ok" if status == 200 else b"error")

    server.routes["/services/T0/B0/SECRETPART"] = hook
    return server.url("/services/T0/B0/SECRETPART")


def posted(server: FeedServer) -> list[dict]:
    return [json.loads(r["body"]) for r in server.requests if "body" in r]


def report(status: str = "ok", valid: int = 8, errors: int = 0, rate: float | None = None) -> dict:
    data = {"status": status, "fatal": None, "items": {"total": 8, "valid": valid, "with_errors": errors,
                                                       "with_warnings": 0},
            "findings": {"by_code": {"item.price_invalid": {"count": errors, "severity": "error"}} if errors else {},
                         "by_severity": {"error": errors, "warning": 0, "info": 0}}}
    if rate is not None:
        data["events"] = {"match_rate": rate, "revenue_at_risk": {"USD": 304.5}}
    return data


def test_state_names_every_problem() -> None:
    assert feed_state(report(), 0.5, 0.9) == "healthy"
    assert feed_state(report("refused", 2, 6), 0.5, 0.9) == "refused+error_share"
    assert feed_state(report(rate=0.56), 0.5, 0.9) == "match_rate"
    assert feed_state(report(rate=0.56), 0.5, None) == "healthy"


def test_alert_once_per_change_then_recovery(tmp_path: Path, server: FeedServer,
                                             caplog: pytest.LogCaptureFixture) -> None:
    url = slack(server)
    caplog.set_level(logging.DEBUG)
    states = [report(), report("refused", 2, 6), report("refused", 2, 6), report("refused", 2, 6, rate=0.4),
              report(), report()]
    sections = [alert_on_change(tmp_path, "northwind", r, url, max_error_share=0.5, min_match_rate=0.9,
                                report_link="file:///out/report.html") for r in states]
    assert [s["sent"] for s in sections] == [False, True, False, True, True, False]
    assert [s["state"] for s in sections] == ["healthy", "refused+error_share", "refused+error_share",
                                              "refused+error_share+match_rate", "healthy", "healthy"]
    messages = posted(server)
    assert [m["text"] for m in messages] == [
        ":rotating_light: northwind was not published: the quality gate kept the last good catalog",
        ":rotating_light: northwind was not published: the quality gate kept the last good catalog",
        ":white_check_mark: northwind has recovered",
    ]
    fields = [f["text"] for f in messages[1]["blocks"][2]["fields"]]
    assert "*Items:* 2 valid of 8 (6 with errors)" in fields
    assert "*Match rate:* 40.0% · *revenue at risk:* 304.50 USD" in fields
    assert messages[1]["blocks"][3]["text"]["text"] == "*Top errors:* `item.price_invalid` ×6"
    assert messages[1]["blocks"][-1]["elements"][0]["text"] == "Report: file:///out/report.html"
    assert "SECRETPART" not in caplog.text


def test_a_500_is_retried(server: FeedServer) -> None:
    url = slack(server, [500, 503])
    assert send(url, {"text": "x"}, backoff=0.01).sent
    assert len(posted(server)) == 3


def test_slack_down_or_refusing_never_fails_the_run(tmp_path: Path, server: FeedServer,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/services/T0/B0/SECRETPART"
    down = send(closed, {"text": "x"}, retries=1, backoff=0.01)
    assert not down.sent and "could not be reached" in down.detail and "SECRETPART" not in down.detail
    refused = send(slack(server, [403]), {"text": "x"}, backoff=0.01)
    assert (refused.sent, refused.detail) == (False, "Slack answered 403 Forbidden")
    section = alert_on_change(tmp_path, "shop", report("fatal"), closed, max_error_share=0.5, min_match_rate=None,
                              report_link="x", retries=1, backoff=0.01)
    assert section["changed"] and not section["sent"]
    assert "SECRETPART" not in caplog.text


def test_a_change_slack_missed_is_sent_by_the_next_run_and_only_then_recorded(tmp_path: Path,
                                                                             server: FeedServer) -> None:
    url = slack(server, [503, 503, 503, 503])  # down for the first run's attempt and its three retries
    runs = [report("fatal"), report("fatal"), report("fatal")]
    sections = [alert_on_change(tmp_path, "shop", r, url, max_error_share=0.5, min_match_rate=None,
                                report_link="x", backoff=0.01) for r in runs]
    assert [(s["changed"], s["sent"]) for s in sections] == [(True, False), (True, True), (False, False)]
    assert sections[0]["detail"] == "Slack answered 503 Service Unavailable"
    assert [m["text"] for m in posted(server)] == [":rotating_light: shop could not be fetched or read"] * 5


def test_a_change_that_was_over_before_slack_came_back_is_still_told_late_and_in_order(
        tmp_path: Path, server: FeedServer) -> None:
    url = slack(server, [200, 503, 503, 503, 503])  # down for the second run's alert and its three retries
    sections = [alert_on_change(tmp_path, "shop", r, url, max_error_share=0.5, min_match_rate=None,
                                report_link="x", backoff=0.01)
                for r in [report("fatal"), report(), report("fatal"), report()]]
    assert [(s["state"], s["sent"], s["waiting"]) for s in sections] == [
        ("failed", True, 0), ("healthy", False, 1), ("failed", True, 0), ("healthy", True, 0)]
    delivered = posted(server)
    assert [m["text"].split(" ", 1)[1] for m in delivered] == ["shop could not be fetched or read"] + [
        "shop has recovered"] * 5 + ["shop could not be fetched or read", "shop has recovered"]
    assert delivered[5]["blocks"][-1]["elements"][0]["text"].startswith("Sent late: this happened at ")
    assert not delivered[6]["blocks"][-1]["elements"][0]["text"].startswith("Sent late")


def test_without_a_webhook_a_change_is_recorded_and_not_sent_later(tmp_path: Path, server: FeedServer) -> None:
    url = slack(server)
    first = alert_on_change(tmp_path, "shop", report("fatal"), None, max_error_share=0.5, min_match_rate=None,
                            report_link="x")
    second = alert_on_change(tmp_path, "shop", report("fatal"), url, max_error_share=0.5, min_match_rate=None,
                             report_link="x")
    assert (first["detail"], second["changed"], posted(server)) == ("no Slack webhook configured", False, [])


def test_a_recovery_slack_missed_is_sent_by_the_next_run_even_when_the_feed_is_unchanged(
        tmp_path: Path, server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    body, etag = (FEEDS / "tiktok_clean.csv").read_bytes(), '"v1"'
    monkeypatch.setenv("SHOP_HOOK", slack(server, [200, 503, 503, 503, 503]))
    gone = True

    def feed(handler) -> None:
        if gone:
            answer(handler, 404, b"")
        elif handler.headers.get("If-None-Match") == etag:
            answer(handler, 304, b"", ETag=etag)
        else:
            answer(handler, 200, body, ETag=etag)

    server.routes["/feed.csv"] = feed
    check = ["check", server.url("/feed.csv"), "--out", str(tmp_path), "--alert", "env:SHOP_HOOK", "--name", "shop"]
    assert run(*check).returncode == ExitCode.UNUSABLE  # Slack hears of it
    gone = False
    assert run(*check).returncode == ExitCode.OK  # recovered, while Slack answers 503 to the alert and its retries
    skipped = run(*check)
    assert skipped.returncode == 0 and "unchanged" in skipped.stdout
    assert [m["text"].split(" ", 1)[1] for m in posted(server)] == ["shop could not be fetched or read"] + [
        "shop has recovered"] * 5
    alert = json.loads((tmp_path / "report.json").read_text())["alert"]
    assert (alert["state"], alert["sent"]) == ("healthy", True)
    assert run(*check).returncode == 0 and len(posted(server)) == 6  # delivered: never again


def test_webhook_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_HOOK", "https://hooks.slack.com/services/T/B/X")
    assert resolve_webhook("env:SHOP_HOOK") == "https://hooks.slack.com/services/T/B/X"
    assert resolve_webhook("env:UNSET_HOOK_VARIABLE") is None
    with pytest.raises(ConfigError, match="never given"):
        resolve_webhook("https://hooks.slack.com/services/T/B/X")


def test_cli_alerts_when_the_gate_refuses_and_keeps_the_url_secret(tmp_path: Path, server: FeedServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_HOOK", slack(server))
    out = tmp_path / "out"
    assert run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out), "--alert", "env:SHOP_HOOK",
               "--name", "northwind").returncode == 0
    refused = run("check", str(FEEDS / "tiktok_defects.csv"), "--out", str(out), "--alert", "env:SHOP_HOOK",
                  "--name", "northwind")
    assert refused.returncode == 3
    assert [m["text"].split(" ", 1)[1] for m in posted(server)] == [
        "northwind was not published: the quality gate kept the last good catalog"]
    alert = json.loads((out / "report.json").read_text())["alert"]
    assert (alert["state"], alert["sent"]) == ("refused+error_share", True)
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file() and p.suffix != ".sqlite")
    assert "SECRETPART" not in written + refused.stdout + refused.stderr
    bad = run("check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out), "--alert", "https://hooks.slack.com/x")
    assert bad.returncode == 2 and "never the webhook URL" in bad.stderr
