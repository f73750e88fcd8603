"""Reports for people: ``report.md`` and a standalone ``report.html`` built from ``report.json``.

Both say the same things in the same order: the headline, the item counts
and what was published, the finding codes that matter most with example items
and what to do, the catalog match rate of the events, the change since the
last run, and the history.  The HTML page carries its own styles and an
inline SVG chart: no scripts, no fonts, nothing fetched, so it opens offline
and can be mailed as it is.  Every value from a feed is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from feedcheck.findings import Finding
from feedcheck.reports.messages import money

TOP_CODES = 12
EXAMPLES = 3
_HEADLINES = {
    "ok": "No errors",
    "errors": "Items the channel will reject",
    "fatal": "The feed could not be used",
    "refused": "Not published: the quality gate kept the last good catalog",
    "unchanged": "Unchanged since the last check",
}


def top_codes(report: dict[str, Any], findings: Iterable[Finding], *, limit: int = TOP_CODES,
              examples: int = EXAMPLES, notes: bool = False) -> list[dict[str, Any]]:
    """The codes to fix first: errors, then warnings (then notes, with ``notes``), the most frequent first;
    each with up to ``examples`` of its findings."""
    kept: dict[str, list[Finding]] = {}
    for finding in findings:
        some = kept.setdefault(finding.code, [])
        if len(some) < examples:
            some.append(finding)
    return [
        {"code": code, "count": v["count"], "severity": v["severity"], "examples": kept.get(code, [])}
        for code, v in ranked(report["findings"]["by_code"])
        if notes or v["severity"] != "info"
    ][:limit]


def item_label(finding: Finding) -> str:
    """How a person finds a finding's item: ``row 12, SKU-1 'Linen Shirt'`` in a feed, ``order_5001
    (server.jsonl:3)`` in an event log, the source (or ``-``) for the feed as a whole.

    >>> from feedcheck.findings import Severity
    >>> item_label(Finding("item.too_long", Severity.ERROR, "", item_id="SKU-1", row=12, title="Linen Shirt"))
    "row 12, SKU-1 'Linen Shirt'"
    """
    if finding.source:
        return f"{finding.item_id} ({finding.source})" if finding.item_id and finding.item_id != finding.source \
            else finding.source
    if not finding.item_id:
        return "-"
    title = f" '{finding.title}'" if finding.title else ""
    return (f"row {finding.row:,}, " if finding.row is not None else "") + finding.item_id + title


def ranked(by_code: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The ``by_code`` entries of a report in the order to fix them: errors, then warnings, then notes, each
    the most frequent first."""
    rank = {"error": 0, "warning": 1, "info": 2}
    return sorted(by_code.items(), key=lambda kv: (rank[kv[1]["severity"]], -kv[1]["count"], kv[0]))


def _facts(report: dict[str, Any]) -> list[tuple[str, str]]:
    facts = [("Source", str(report.get("source", "event logs"))), ("Channel", str(report.get("channel", "-")))]
    if "items" in report:
        items = report["items"]
        facts.append(("Items", f"{count(items['total'], 'item')} read, {items['valid']:,} valid, "
                               f"{items['with_errors']:,} with errors, {items['with_warnings']:,} with warnings only"))
    publish = report.get("publish")
    if publish:
        current = publish.get("current") or {}
        where = "none"
        if current:
            where = f"{current['file']} ({count(current['items'], 'item')}, version {current['sha256'][:12]})"
        facts.append(("Published", f"{publish['outcome']}: {publish['reason'] or 'see below'}; now serving {where}"
                      if publish["outcome"] != "published" else f"{where}"))
    by_severity = report["findings"]["by_severity"]
    facts.append(("Findings", f"{count(by_severity['error'], 'error')}, {count(by_severity['warning'], 'warning')}, "
                              f"{count(by_severity['info'], 'note')}"))
    return facts


def _events(report: dict[str, Any]) -> dict[str, Any] | None:
    events = report.get("events")
    if not events:
        return None
    return {
        "summary": f"{count(events['total'], 'event')} read, {events['unique']:,} after deduplication "
                   f"({count(events['duplicates'], 'duplicate')}); {events['missing_value']:,} without value, "
                   f"{events['missing_currency']:,} without currency, {events['invalid_currency']:,} with an "
                   "invalid currency.",
        "rate": events.get("match_rate"),
        "risk": money(events.get("revenue_at_risk") or {}) or "none",
        "by_name": events.get("by_name") or {},
        "top": events.get("top_unmatched") or [],
    }


def _changes(report: dict[str, Any]) -> list[str]:
    since = report.get("since_last_run")
    if not since:
        return ["This is the first run recorded here."]
    lines = [f"Previous run {since['previous_run']['started_at']}: {since['previous_run']['status']}, "
             f"{count(since['previous_run']['items_valid'], 'valid item')}."]
    items = since.get("items")
    if items:
        lines.append(f"Items: {items['added']:,} added, {items['removed']:,} removed, {items['price_changed']:,} "
                     f"re-priced, {items['availability_changed']:,} changed availability, "
                     f"{items['other_changed']:,} otherwise changed.")
    codes = since["codes"]
    if codes["new"]:
        lines.append("New finding codes: " + ", ".join(codes["new"]) + ".")
    if codes["resolved"]:
        lines.append("Resolved finding codes: " + ", ".join(codes["resolved"]) + ".")
    rate = since["match_rate"]
    if rate["before"] is not None or rate["after"] is not None:
        lines.append(f"Match rate: {percent(rate['before'])} → {percent(rate['after'])}.")
    return lines


def percent(rate: float | None) -> str:
    """A rate as people read it; ``-`` when there is none.

    >>> percent(0.5625), percent(None)
    ('56.2%', '-')
    """
    return "-" if rate is None else f"{rate:.1%}"


def count(n: int, noun: str) -> str:
    """A number and its noun, which is plural unless the number is one.

    >>> count(1, "error"), count(0, "error"), count(1_200, "valid item")
    ('1 error', '0 errors', '1,200 valid items')
    """
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


# Markdown ---------------------------------------------------------------------------------------


def render_markdown(report: dict[str, Any], findings: Iterable[Finding]) -> str:
    """``report.md``: the report for people, in Markdown."""
    out = [f"# feedcheck: {_HEADLINES.get(report['status'], report['status'])}", ""]
    fatal = report.get("fatal")
    if fatal:
        out += [f"> **{_md(fatal['message'])}**", ""]
    out += ["| | |", "|---|---|"] + [f"| {k} | {_md(v)} |" for k, v in _facts(report)] + [""]
    top = top_codes(report, findings)
    if top:
        out += ["## What to fix first", "", "| code | severity | count | example items | what to do |",
                "|---|---|---:|---|---|"]
        for entry in top:
            items = "; ".join(_md(item_label(f)) for f in entry["examples"])
            advice = _md(entry["examples"][0].message) if entry["examples"] else ""
            out.append(f"| `{entry['code']}` | {entry['severity']} | {entry['count']:,} | {items} | {advice} |")
        out.append("")
    events = _events(report)
    if events:
        out += ["## Catalog match rate", "", events["summary"], "",
                f"Match rate: **{percent(events['rate'])}** of catalog events. "
                f"Revenue at risk: **{events['risk']}**.", ""]
        if events["by_name"]:
            out += ["| event | matched | events | rate |", "|---|---:|---:|---:|"]
            out += [f"| {_md(name)} | {v['matched_events']:,} | {v['events']:,} | {percent(v['match_rate'])} |"
                    for name, v in events["by_name"].items()] + [""]
        if events["top"]:
            out += ["| content_id | reason | suggested id | events | revenue |", "|---|---|---|---:|---:|"]
            out += [f"| {_md(r['content_id'])} | {r['reason']} | {_md(r['suggested_id'])} | {r['events']:,} | "
                    f"{r['revenue']:,.2f} {_md(r['currency'])} |" for r in events["top"]] + [""]
    out += ["## Since the last run", ""] + [f"- {_md(line)}" for line in _changes(report)] + [""]
    history = report.get("history") or []
    if len(history) > 1:
        out += ["## History", "", "| run | status | valid items | errors | match rate |", "|---|---|---:|---:|---:|"]
        out += [f"| {r['started_at']} | {r['status']} | {r['items_valid']:,} | {r['errors']:,} | "
                f"{percent(r['match_rate'])} |" for r in history] + [""]
    return "\n".join(out)


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell: no pipes, no line breaks, no markup."""
    flat = " ".join(str(text).splitlines())  # \n, \r, \u2028 … would end the table row
    return (html.escape(flat, quote=False).replace("|", "\\|").replace("`", "'")
            .replace("*", "\\*").replace("_", "\\_").replace("[", "\\[").replace("]", "\\]"))


# HTML -------------------------------------------------------------------------------------------

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2433;background:#f5f6f8}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px} h2{font-size:19px;margin:28px 0 10px}
.badge{display:inline-block;padding:3px 10px;border-radius:12px;font-weight:600;font-size:13px;color:#fff}
.ok{background:#1f8a4c}.errors{background:#c2410c}.fatal,.refused{background:#b91c1c}.unchanged{background:#64748b}
.card{background:#fff;border-radius:8px;padding:16px 20px;box-shadow:0 1px 2px rgba(0,0,0,.08);margin:12px 0}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e5e7eb;
vertical-align:top} th{font-size:13px;color:#475569} .n{text-align:right;font-variant-numeric:tabular-nums}
code{background:#eef1f5;padding:1px 5px;border-radius:4px;font-size:13px}
.error{color:#b91c1c;font-weight:600}.warning{color:#a16207;font-weight:600}
.fatalbox{border-left:4px solid #b91c1c} small{color:#64748b}
"""


def render_html(report: dict[str, Any], findings: Iterable[Finding]) -> str:
    """``report.html``: one standalone page, no external assets."""
    e = escaped
    status = report["status"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>feedcheck: {e(_HEADLINES.get(status, status))}</title>",
        f"<style>{STYLE}</style></head><body><main>",
        f'<h1 id="headline">{e(_HEADLINES.get(status, status))}</h1>',
        f'<p><span class="badge {e(status)}">{e(status)}</span> <small>{e(report.get("started_at", ""))}</small></p>',
    ]
    fatal = report.get("fatal")
    if fatal:
        parts.append(f'<div class="card fatalbox"><strong>{e(fatal["message"])}</strong></div>')
    parts.append('<div class="card"><table>' + "".join(
        f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _facts(report)) + "</table></div>")
    top = top_codes(report, findings)
    if top:
        rows = "".join(
            f'<tr><td><code>{e(t["code"])}</code></td><td class="{e(t["severity"])}">{e(t["severity"])}</td>'
            f'<td class="n">{t["count"]:,}</td><td>{e("; ".join(item_label(f) for f in t["examples"]))}'
            f'</td><td>{e(t["examples"][0].message) if t["examples"] else ""}</td></tr>'
            for t in top
        )
        parts.append('<h2 id="top-issues">What to fix first</h2><div class="card"><table><tr><th>code</th>'
                     '<th>severity</th><th class="n">count</th><th>example items</th><th>what to do</th></tr>'
                     f"{rows}</table></div>")
    events = _events(report)
    if events:
        names = "".join(f'<tr><td>{e(n)}</td><td class="n">{v["matched_events"]:,}</td><td class="n">'
                        f'{v["events"]:,}</td><td class="n">{percent(v["match_rate"])}</td></tr>'
                        for n, v in events["by_name"].items())
        unmatched = "".join(f'<tr><td><code>{e(r["content_id"])}</code></td><td>{e(r["reason"])}</td>'
                            f'<td>{e(r["suggested_id"])}</td><td class="n">{r["events"]:,}</td>'
                            f'<td class="n">{r["revenue"]:,.2f} {e(r["currency"])}</td></tr>' for r in events["top"])
        by_name = ('<table><tr><th>event</th><th class="n">matched</th><th class="n">events</th>'
                   f'<th class="n">rate</th></tr>{names}</table>') if names else ""
        top_ids = ('<h3>Top unmatched ids</h3><table><tr><th>content_id</th><th>reason</th><th>suggested id</th>'
                   f'<th class="n">events</th><th class="n">revenue</th></tr>{unmatched}</table>') if unmatched else ""
        parts.append(f'<h2 id="match-rate">Catalog match rate: {percent(events["rate"])}</h2><div class="card">'
                     f'<p>{e(events["summary"])} Revenue at risk: <strong>{e(events["risk"])}</strong>.</p>'
                     f"{by_name}{top_ids}</div>")
    parts.append('<h2 id="since-last-run">Since the last run</h2><div class="card"><ul>'
                 + "".join(f"<li>{e(line)}</li>" for line in _changes(report)) + "</ul></div>")
    history = report.get("history") or []
    parts.append('<h2 id="history">History</h2><div class="card">' + _chart(history) + "</div>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _chart(history: list[dict[str, Any]]) -> str:
    """An inline SVG line chart of valid items per run, error findings as bars beneath."""
    if not history:
        return "<p>No runs recorded yet.</p>"
    width, height, pad = 960, 220, 40
    valid = [r["items_valid"] for r in history]
    errors = [r["errors"] for r in history]
    top = max(max(valid), 1)
    top_errors = max(max(errors), 1)
    step = (width - 2 * pad) / max(len(history) - 1, 1)

    def x(i: int) -> float:
        return pad + i * step if len(history) > 1 else width / 2

    def y(value: float) -> float:
        return height - pad - (height - 2 * pad) * value / top

    bars = "".join(
        f'<rect x="{x(i) - 6:.1f}" y="{height - pad - 40 * n / top_errors:.1f}" width="12" '
        f'height="{40 * n / top_errors:.1f}" fill="#f59e0b"><title>{count(n, "error")}</title></rect>'
        for i, n in enumerate(errors)
    )
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(valid))
    dots = "".join(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" fill="#2563eb"><title>{escaped(r["started_at"])}: '
                   f'{count(v, "valid item")}, {r["status"]}</title></circle>' for i, (v, r) in enumerate(zip(valid, history)))
    labels = (f'<text x="{pad}" y="{height - 12}" font-size="12" fill="#64748b">'
              f'{escaped(history[0]["started_at"][:16])}</text>'
              f'<text x="{width - pad}" y="{height - 12}" font-size="12" fill="#64748b" text-anchor="end">'
              f'{escaped(history[-1]["started_at"][:16])}</text><text x="{pad}" y="{pad - 12}" font-size="12" '
              f'fill="#2563eb">valid items (max {top:,})</text><text x="{width - pad}" y="{pad - 12}" font-size="12" '
              f'fill="#b45309" text-anchor="end">error findings (max {top_errors:,})</text>')
    return (f'<svg id="history-chart" role="img" aria-label="Valid items and errors per run" '
            f'viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#cbd5e1"/>'
            f'{bars}<polyline points="{points}" fill="none" stroke="#2563eb" stroke-width="2.5"/>{dots}{labels}</svg>')


def escaped(text: object) -> str:
    """``text`` safe in HTML text and in a quoted attribute."""
    return html.escape(str(text), quote=True)
