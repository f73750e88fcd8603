"""One page for the whole fleet: ``index.json`` and a standalone ``index.html`` over every feed of a feeds file.

Built from what each feed's last run left in its local folder (``report.json``
and the short history in it), so it costs no fetch and shows feeds that have
never run too.  Failing feeds come first.  Like ``report.html``, the page has
its own styles and inline SVG trends: no scripts, nothing fetched.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from feedcheck.clock import utc_now
from feedcheck.errors import exit_code_of
from feedcheck.feeds import FeedConfig, fleet_folder, load_feeds
from feedcheck.reports.messages import money
from feedcheck.reports.render import STYLE, escaped, percent, ranked
from feedcheck.reports.write import atomic_write

FLEET_VERSION = "1"
NEVER_RUN = "never run"
UNREADABLE = "unreadable report"
TOP_CODES = 3
TREND_RUNS = 20
# The order of the page: what failed, what has errors, what has not run, what is well.
_RANK = {"crashed": 0, "fatal": 1, "refused": 2, "invalid": 3, "errors": 4, UNREADABLE: 5, NEVER_RUN: 6,
         "unchanged": 7, "ok": 8}


def fleet(feeds: list[FeedConfig], page: Path, now: str) -> dict[str, Any]:
    """The fleet's state, written at ``now``: one entry per feed, failing feeds first; links relative to the folder
    ``page`` the index is written to."""
    entries = sorted((_entry(feed, page) for feed in feeds), key=lambda e: (_RANK.get(e["status"], 0), e["feed"]))
    return {"fleet_version": FLEET_VERSION, "written_at": now, "feeds": entries,
            "by_status": dict(Counter(e["status"] for e in entries))}


def write_fleet_page(config: str | os.PathLike[str]) -> dict[str, Path]:
    """The fleet page of the feeds file ``config``, written now into its folder (see
    :func:`~feedcheck.feeds.fleet_folder`); return the paths written.

    Raises:
        ConfigError: the feeds file is wrong.
    """
    page = fleet_folder(config)
    return write_fleet(page, fleet(load_feeds(config), page, utc_now()))


def write_fleet(page: Path, state: dict[str, Any]) -> dict[str, Path]:
    """Write ``index.json`` and ``index.html`` into ``page``, each atomically; return their paths."""
    paths = {"json": page / "index.json", "html": page / "index.html"}
    atomic_write(paths["json"], (json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode())
    atomic_write(paths["html"], render_fleet_html(state).encode())
    return paths


def _entry(feed: FeedConfig, page: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"feed": feed.name, "channel": feed.channel,
                             "destination": feed.publishes_to, "report": _link(feed, page)}
    try:
        report = json.loads((feed.out / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return entry | _blank(NEVER_RUN)
    try:  # a report.json of another version, or edited by hand, gives one row that says so, not a broken page
        return entry | _state(report)
    except (TypeError, ValueError, KeyError, AttributeError):
        return entry | _blank(UNREADABLE)


def _state(report: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a feed's last ``report.json``.

    Raises:
        TypeError, ValueError, KeyError, AttributeError: the report is not one feedcheck writes.
    """
    items, events = report.get("items") or {}, report.get("events") or {}
    total, valid = _typed(items.get("total"), int), _typed(items.get("valid"), int)
    status = _typed(report.get("status"), str)
    if not status:
        raise ValueError("no status")
    by_code = report.get("findings", {}).get("by_code", {})
    return {
        "status": status,
        "last_run": _typed(report.get("started_at"), str),
        "items": total,
        "valid": valid,
        "valid_share": valid / total if total and valid is not None else None,
        "top_codes": [{"code": code, "count": _typed(v["count"], int), "severity": v["severity"]}
                      for code, v in ranked(by_code) if v["severity"] != "info"][:TOP_CODES],
        "match_rate": _typed(events.get("match_rate"), (int, float)),
        "revenue_at_risk": {_typed(c, str): float(_typed(a, (int, float)))
                            for c, a in (events.get("revenue_at_risk") or {}).items()},
        "trend": [{"started_at": _typed(run["started_at"], str), "status": _typed(run["status"], str),
                   "items_valid": _typed(run["items_valid"], int), "errors": _typed(run["errors"], int)}
                  for run in (report.get("history") or [])[-TREND_RUNS:]],
    }


def _blank(status: str) -> dict[str, Any]:
    return {"status": status, "last_run": None, "items": None, "valid": None, "valid_share": None,
            "top_codes": [], "match_rate": None, "revenue_at_risk": {}, "trend": []}


def _typed(value: Any, kinds: type | tuple[type, ...]) -> Any:
    """``value`` when it is ``None`` or of ``kinds`` (never a bool).

    Raises:
        TypeError: it is not.
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
        raise TypeError(f"{value!r} is not {kinds}")
    return value


def _link(feed: FeedConfig, page: Path) -> str:
    """Where the page links a feed's report: under ``alerts.report_url`` when set, else relative to the page."""
    if feed.alerts.report_url:
        return feed.alerts.report_url.rstrip("/") + "/report.html"
    return Path(os.path.relpath(feed.out.resolve() / "report.html", page.resolve())).as_posix()


# HTML -----------------------------------------------------------------------------------------------

_FLEET_STYLE = """
main{max-width:1280px} .never,.unreadable{background:#94a3b8}.crashed,.invalid{background:#7f1d1d}
td small{display:block} small.where{overflow-wrap:anywhere} td.when,td .badge,td.n{white-space:nowrap}
"""
_STATUS_WORDS = {"errors": "with errors"}


def render_fleet_html(state: dict[str, Any]) -> str:
    """``index.html``: one standalone page, a row per feed."""
    e = escaped
    counts = ", ".join(f"{n} {_STATUS_WORDS.get(status, status)}" for status, n in
                       sorted(state["by_status"].items(), key=lambda kv: _RANK.get(kv[0], 0)))
    rows = "".join(_row(entry) for entry in state["feeds"])
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>feedcheck: {len(state['feeds'])} feeds</title>",
        f"<style>{STYLE}{_FLEET_STYLE}</style></head><body><main>",
        f'<h1 id="headline">{len(state["feeds"])} feeds</h1>',
        f"<p>{e(counts)} <small>written {e(_when(state['written_at']))}</small></p>",
        '<div class="card"><table id="fleet"><tr><th>status</th><th>feed</th><th>last run</th>'
        '<th class="n">items</th><th class="n">valid</th><th>top findings</th><th class="n">match rate</th>'
        f'<th class="n">revenue at risk</th><th>trend</th></tr>{rows}</table></div>',
        "</main></body></html>",
    ]) + "\n"


def _row(entry: dict[str, Any]) -> str:
    e = escaped
    status = entry["status"]
    codes = "".join(f'<small><code>{e(c["code"])}</code> <span class="{e(c["severity"])}">{c["count"]:,}</span>'
                    "</small>" for c in entry["top_codes"]) or "-"
    items = "-" if entry["items"] is None else f"{entry['items']:,}"
    return (f'<tr class="feed"><td><span class="badge {e(status.split()[0])}">{e(status)}</span></td>'
            f'<td><a href="{e(entry["report"])}">{e(entry["feed"])}</a><small class="where">{e(entry["channel"])} → '
            f'{e(entry["destination"])}</small></td><td class="when">{e(_when(entry["last_run"]))}</td>'
            f'<td class="n">{items}</td><td class="n">{percent(entry["valid_share"])}</td><td>{codes}</td>'
            f'<td class="n">{percent(entry["match_rate"])}</td>'
            f'<td class="n">{e(money(entry["revenue_at_risk"]) or "-")}</td>'
            f'<td class="spark">{_sparkline(entry["trend"])}</td></tr>')


def _failed(status: str) -> bool:
    """Whether a run that ended with ``status`` failed (as its exit code says)."""
    try:
        return exit_code_of(status).failed
    except KeyError:  # not a run's status
        return False


def _when(moment: str | None) -> str:
    """``2026-11-20T12:00:00+00:00`` as ``2026-11-20 12:00 +00:00``."""
    return "-" if not moment else f"{moment[:10]} {moment[11:16]} {moment[19:]}".rstrip()


def _sparkline(trend: list[dict[str, Any]]) -> str:
    """Valid items per run as a small inline SVG line: a red dot where a run failed or was refused, a blue one
    on the last run otherwise."""
    if not trend:
        return "-"
    width, height, pad = 120, 28, 3
    values = [run.get("items_valid") or 0 for run in trend]
    top = max(max(values), 1)
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    points = [(pad + i * step if len(values) > 1 else width / 2, height - pad - (height - 2 * pad) * v / top)
              for i, v in enumerate(values)]
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>'
                   for i, ((x, y), run) in enumerate(zip(points, trend))
                   if (colour := "#b91c1c" if _failed(run["status"]) else "#2563eb" if i == len(trend) - 1 else ""))
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return (f'<svg role="img" aria-label="valid items over the last {len(values)} runs" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
            f'<polyline points="{line}" fill="none" stroke="#2563eb" stroke-width="1.5"/>{dots}</svg>')

