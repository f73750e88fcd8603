"""Slack alerts from the flows, to a real webhook endpoint on 127.0.0.1: what is sent, when, with retries, from
an environment variable or a Prefect block, and never the URL in a log line, artifact or file."""

from __future__ import annotations

import json
import logging
import shutil
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from prefect.artifacts import Artifact
from prefect.blocks.notifications import SlackWebhook
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogWorker
from prefect.states import State

from feedcheck.flows import check_one_feed
from tests.conftest import FEEDS, FeedServer, send

pytestmark = [
    pytest.mark.usefixtures("prefect_api"),
]
SECRET = "T0FEED/B0CHECK/xoxb9secret9token"
HOOK = f"/services/{SECRET}"


def slack(server: FeedServer, *statuses: int) -> list[dict]:
    """A webhook endpoint answering ``statuses`` in turn (then 200); returns the list of payloads received."""
    received: list[dict] = []

    def hook(handler: BaseHTTPRequestHandler) -> None:
        received.append(json.loads(server.requests[-1]["body"]))
        status = statuses[len(received) - 1] if len(received) <= len(statuses) else 200
        send(handler, status, b"ok" if status == 200 else b"server_error")

    server.routes[HOOK] = hook
    return received


def shop(tmp_path: Path, webhook: str, source: Path) -> str:
    config = tmp_path / "feeds.toml"
    config.write_text(f'[[feed]]\nname = "shop"\nsource = "{source}"\nout = "{tmp_path / "out" / "shop"}"\n'
                      f'alerts = {{ slack_webhook = "{webhook}" }}\n')
    return str(config)


def api_logs(*states: State) -> list[str]:
    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[
            s.state_details.flow_run_id for s in states])))
    return [log.message for log in logs]


def assert_secret_nowhere(tmp_path: Path, caplog: pytest.LogCaptureFixture, states: list[State]) -> None:
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    for key in ("shop-summary", "shop-findings", "shop-report"):
        found = Artifact.get(key)
        assert found is not None and SECRET not in str(found.data)
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    logs = api_logs(*states)
    assert logs and all(SECRET not in line for line in logs)


def test_a_failing_feed_alerts_once_then_recovers(tmp_path: Path, server: FeedServer,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    received = slack(server)
    monkeypatch.setenv("SHOP_SLACK_WEBHOOK", server.url(HOOK))
    source = tmp_path / "feed.csv"
    config = shop(tmp_path, "env:SHOP_SLACK_WEBHOOK", source)
    states = [check_one_feed("shop", config, retry_delay_seconds=0.1, return_state=True) for _ in range(2)]
    assert [s.is_failed() for s in states] == [True, True]
    assert len(received) == 1  # the second run is in the same state: no repeat
    alert = received[0]
    assert alert["text"] == ":rotating_light: shop could not be fetched or read"
    text = json.dumps(alert["blocks"])
    assert "feed.csv" in text and (tmp_path / "out" / "shop" / "report.html").resolve().as_uri() in text
    shutil.copy(FEEDS / "tiktok_clean.csv", source)
    states.append(check_one_feed("shop", config, return_state=True))
    assert states[-1].is_completed()
    assert [a["text"] for a in received] == [alert["text"], ":white_check_mark: shop has recovered"]
    report = json.loads((tmp_path / "out" / "shop" / "report.json").read_text())
    assert report["alert"] | {"detail": ""} == {"state": "healthy", "previous_state": "failed", "changed": True,
                                               "sent": True, "detail": "", "waiting": 0}
    assert_secret_nowhere(tmp_path, caplog, states)


def test_slack_errors_are_retried_and_never_fail_the_run(tmp_path: Path, server: FeedServer,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    received = slack(server, 500)
    monkeypatch.setenv("SHOP_SLACK_WEBHOOK", server.url(HOOK))
    config = shop(tmp_path, "env:SHOP_SLACK_WEBHOOK", tmp_path / "missing.csv")
    first = check_one_feed("shop", config, retry_delay_seconds=0.1, return_state=True)
    assert len(received) == 2  # a 500, retried, then delivered
    assert json.loads((tmp_path / "out" / "shop" / "report.json").read_text())["alert"]["sent"] is True
    received.clear()
    slack(server, *[500] * 10)  # Slack is down for longer than the retries
    shutil.copy(FEEDS / "tiktok_clean.csv", tmp_path / "missing.csv")
    second = check_one_feed("shop", config, return_state=True)
    assert second.is_completed(), second.message
    report = json.loads((tmp_path / "out" / "shop" / "report.json").read_text())
    assert report["status"] == "ok" and report["publish"]["outcome"] == "published"
    assert report["alert"]["sent"] is False and report["alert"]["detail"] == "Slack answered 500 Internal Server Error"
    assert_secret_nowhere(tmp_path, caplog, [first, second])


@pytest.mark.parametrize("kind", ["secret", "slack-webhook"])
def test_the_webhook_comes_from_a_prefect_block(tmp_path: Path, server: FeedServer, kind: str) -> None:
    received = slack(server)
    name = f"shop-{kind}"
    block = Secret(value=server.url(HOOK)) if kind == "secret" else SlackWebhook(url=server.url(HOOK))
    block.save(name, overwrite=True)
    state = check_one_feed("shop", shop(tmp_path, f"block:{name}", tmp_path / "missing.csv"), retry_delay_seconds=0.1,
                       return_state=True)
    assert state.is_failed()
    assert [a["text"] for a in received] == [":rotating_light: shop could not be fetched or read"]


def test_a_missing_block_is_logged_and_the_run_goes_on(tmp_path: Path) -> None:
    state = check_one_feed("shop", shop(tmp_path, "block:no-such-block", FEEDS / "tiktok_clean.csv"),
                       return_state=True)
    assert state.is_completed(), state.message
    report = json.loads((tmp_path / "out" / "shop" / "report.json").read_text())
    assert report["alert"]["detail"] in ("no change since the last run", "no Slack webhook configured")
    assert any("No SlackWebhook or Secret block named 'no-such-block'" in line for line in api_logs(state))
