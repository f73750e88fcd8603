"""Slack alerts when a feed fails or degrades, and when it recovers; never twice for the same state.

A run's state is ``healthy`` or the set of what is wrong: the feed could not
be used (``failed``), the gate refused to publish (``refused``), too many
items have errors (``error_share``), the events' match rate is under the
feed's minimum (``match_rate``).  An alert goes out only when the state
changes, and the state is kept in the feed's run history, so an hourly
schedule does not send an hourly alert; a feed that becomes healthy again
sends a recovery message.

Delivery is at least once, in order: Slack being down, slow or answering 4xx is
retried (5xx and 429, with backoff) and logged, and never fails the feed's run;
a change waits in a queue beside the history until Slack has taken it, and each
run sends what waits, so no change is lost, even one that was over by the time
Slack came back (a run killed after Slack's answer and before the record may
send one twice).
The webhook URL is a secret: it is read from an environment variable at send
time and appears in no log line, report, finding or exception.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from feedcheck.errors import ConfigError
from feedcheck.publish import STORE
from feedcheck.reports.messages import money
from feedcheck.reports.render import percent
from feedcheck.sources.redact import hidden_in_http_logs

log = logging.getLogger("feedcheck.reports.alerts")
HEALTHY = "healthy"
TOP_CODES = 5
_PROBLEMS = {
    "failed": "could not be fetched or read",
    "refused": "was not published: the quality gate kept the last good catalog",
    "error_share": "has too many items with errors",
    "match_rate": "has a catalog match rate under its minimum",
}


@dataclass(frozen=True)
class Delivery:
    """What happened to one alert: sent or not, and why (never the URL)."""

    sent: bool
    detail: str


def feed_state(report: dict[str, Any], max_error_share: float, min_match_rate: float | None) -> str:
    """``healthy``, or the problems of this run joined with ``+`` (``refused+match_rate``)."""
    problems = []
    if report["status"] == "fatal":
        problems.append("failed")
    if report["status"] == "refused":
        problems.append("refused")
    items = report.get("items") or {}
    if items.get("total") and items["with_errors"] / items["total"] > max_error_share:
        problems.append("error_share")
    rate = (report.get("events") or {}).get("match_rate")
    if min_match_rate is not None and rate is not None and rate < min_match_rate:
        problems.append("match_rate")
    return "+".join(problems) or HEALTHY


def message(feed: str, state: str, previous: str | None, report: dict[str, Any], report_link: str) -> dict[str, Any]:
    """The Block Kit message for a change of state (an alert, or a recovery when ``state`` is healthy)."""
    if state == HEALTHY:
        headline = f":white_check_mark: {feed} has recovered"
        what = f"It was {_describe(previous or '')}; this run is healthy."
    else:
        headline = f":rotating_light: {feed} {_PROBLEMS[state.split('+')[0]]}"
        what = "This feed " + "; it also ".join(_PROBLEMS[p] for p in state.split("+")) + "."
        fatal = report.get("fatal")
        if fatal:
            what += f"\n>{fatal['message'][:500]}"
    items = report.get("items") or {}
    numbers = [f"*Status:* {report['status']}"]
    if items:
        numbers.append(f"*Items:* {items['valid']:,} valid of {items['total']:,} "
                       f"({items['with_errors']:,} with errors)")
    events = report.get("events") or {}
    if events.get("match_rate") is not None:
        risk = money(events.get("revenue_at_risk") or {}) or "none"
        numbers.append(f"*Match rate:* {percent(events['match_rate'])} · *revenue at risk:* {risk}")
    codes = [f"`{code}` ×{v['count']:,}" for code, v in report["findings"]["by_code"].items()
             if v["severity"] == "error"][:TOP_CODES]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": what}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": n} for n in numbers]},
    ]
    if codes and state != HEALTHY:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Top errors:* " + ", ".join(codes)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Report: {report_link}"}]})
    return {"text": headline, "blocks": blocks}


def _describe(state: str) -> str:
    return " and ".join(_PROBLEMS.get(p, p) for p in state.split("+")) if state else "failing"


def resolve_webhook(reference: str) -> str | None:
    """The webhook URL named by ``env:VARIABLE``; ``None`` when the variable is unset or empty (no alerts).

    Raises:
        ConfigError: anything but an ``env:`` reference.
    """
    kind, _, name = reference.partition(":")
    if kind == "env" and name:
        return os.environ.get(name) or None
    if kind == "block" and name:
        raise ConfigError(f"'block:{name}' names a Prefect block, which only the Prefect flows read; on the command "
                          "line, pass the webhook in an environment variable: --alert env:VARIABLE.")
    raise ConfigError("A webhook reference is 'env:VARIABLE' or 'block:BLOCK_NAME'; the URL itself is never "
                      "given (it would end up in shell history and process lists).")


def send(url: str, payload: dict[str, Any], *, retries: int = 3, backoff: float = 0.5,
         timeout: float = 10.0) -> Delivery:
    """POST ``payload`` to a Slack webhook; never raises, never reveals the URL."""
    with hidden_in_http_logs(url, urlsplit(url).path):  # a webhook's path is its secret, whatever the host
        return _post(url, payload, retries, backoff, timeout)


def _post(url: str, payload: dict[str, Any], retries: int, backoff: float, timeout: float) -> Delivery:
    session = requests.Session()
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                  status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None, respect_retry_after_header=True,
                  raise_on_status=False)
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    try:
        response = session.post(url, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        detail = f"Slack could not be reached ({type(exc).__name__}) after {retries} retries"
        log.warning("alert not delivered: %s", detail)
        return Delivery(False, detail)
    finally:
        session.close()
    if response.status_code >= 400:
        detail = f"Slack answered {response.status_code} {response.reason}"
        log.warning("alert not delivered: %s", detail)
        return Delivery(False, detail)
    log.info("alert delivered to Slack")
    return Delivery(True, "sent")


def alert_on_change(out: Path, feed: str, report: dict[str, Any], webhook: str | None, *,
                    max_error_share: float, min_match_rate: float | None, report_link: str,
                    retries: int = 3, backoff: float = 0.5) -> dict[str, Any]:
    """Alert on each change of the feed's state, in order; return the ``alert`` section for the report.

    A change is queued, and leaves the queue once Slack has taken it: while Slack is down, each run tries the
    queue again, so no change is lost, even one that was over by the time Slack came back (its message says
    when it happened). With no webhook configured, the state is only recorded (there is no one to tell).
    """
    state = feed_state(report, max_error_share, min_match_rate)
    previous = _previous_state(out)
    changed = state != (previous or HEALTHY)
    section: dict[str, Any] = {"state": state, "previous_state": previous, "changed": changed, "sent": False,
                               "detail": "no change since the last run" if not changed else ""}
    if webhook is None:
        if changed:
            section["detail"] = "no Slack webhook configured"
        _record(out, state)
        return section
    waiting = _queued(out)
    last = waiting[-1].state if waiting else previous or HEALTHY
    if state != last:
        waiting.append(_queue(out, state, message(feed, state, last, report, report_link)))
    delivered = 0
    for change in waiting:
        payload = change.payload if change.fresh else _late(change)
        delivery = send(webhook, payload, retries=retries, backoff=backoff)
        section |= {"sent": delivery.sent, "detail": delivery.detail}
        if not delivery.sent:
            break
        _record(out, change.state, change.number)
        delivered += 1
    section["waiting"] = sum(change.number is not None for change in waiting[delivered:])
    return section


@dataclass(frozen=True)
class _Change:
    """A change of state waiting for Slack: its number in the queue (None: it could not be queued), when it
    happened, and its message. ``fresh``: queued by this run."""

    number: int | None
    state: str
    at: str
    payload: dict[str, Any]
    fresh: bool = False


def _late(change: _Change) -> dict[str, Any]:
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": (
        f"Sent late: this happened at {change.at} (UTC), when Slack could not be reached.")}]}
    return change.payload | {"blocks": [*change.payload["blocks"], note]}


def _previous_state(out: Path) -> str | None:
    try:
        with sqlite3.connect(out / STORE, timeout=30) as db:
            db.executescript(_TABLES)
            row = db.execute("SELECT state FROM alert_state WHERE id = 1").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _queued(out: Path) -> list[_Change]:
    try:
        with sqlite3.connect(out / STORE, timeout=30) as db:
            db.executescript(_TABLES)
            rows = db.execute("SELECT number, state, at, payload FROM alert_queue ORDER BY number").fetchall()
    except sqlite3.Error:
        return []
    return [_Change(number, state, at, json.loads(payload)) for number, state, at, payload in rows]


def _queue(out: Path, state: str, payload: dict[str, Any]) -> _Change:
    """Queue a change; one that cannot be queued (the history's database is unusable) is still sent once."""
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        with sqlite3.connect(out / STORE, timeout=30) as db:
            db.executescript(_TABLES)
            number = db.execute("INSERT INTO alert_queue (state, at, payload) VALUES (?, ?, ?)",
                                (state, at, json.dumps(payload))).lastrowid
    except sqlite3.Error as exc:
        log.warning("alert not queued (%s); it is sent once, and not again if Slack misses it", type(exc).__name__)
        number = None
    return _Change(number, state, at, payload, fresh=True)


def _record(out: Path, state: str, delivered: int | None = None) -> None:
    """Record the state Slack knows, and take the change it was told of off the queue, in one transaction."""
    try:
        with sqlite3.connect(out / STORE, timeout=30) as db:
            db.executescript(_TABLES)
            db.execute("INSERT INTO alert_state (id, state, changed_at) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE "
                       "SET state = excluded.state, changed_at = CASE WHEN alert_state.state = excluded.state "
                       "THEN alert_state.changed_at ELSE excluded.changed_at END",
                       (state, datetime.now(timezone.utc).isoformat(timespec="seconds")))
            db.execute("DELETE FROM alert_queue WHERE number = ?", (delivered,))
    except sqlite3.Error as exc:
        log.warning("alert state not saved (%s); the next run may alert again", type(exc).__name__)


_TABLES = """
CREATE TABLE IF NOT EXISTS alert_state (id INTEGER PRIMARY KEY, state TEXT NOT NULL, changed_at TEXT);
CREATE TABLE IF NOT EXISTS alert_queue (number INTEGER PRIMARY KEY AUTOINCREMENT, state TEXT NOT NULL,
                                        at TEXT NOT NULL, payload TEXT NOT NULL);
"""
