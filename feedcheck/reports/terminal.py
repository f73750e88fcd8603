"""What the command line prints after a check: the verdict, the items, what was published, the events' match
and the findings to fix first, each on a line a person reads in a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feedcheck.findings import FindingLog, truncate
from feedcheck.outcome import FeedReport
from feedcheck.reports.messages import money
from feedcheck.reports.render import count, item_label, percent, top_codes

TOP_FINDINGS = 8  # codes the summary lists


def feed_summary(report: FeedReport, paths: dict[str, Path]) -> str:
    """A check's outcome in a few lines: the verdict, the items, the publish, the events or the top findings."""
    lines = []
    fatal = report.log.fatal
    if fatal:
        lines.append(f"FAILED  {report.source}: {fatal.message}")
    if report.info is not None:
        info = report.info
        shape = f"{info.format.upper()}, {info.encoding}{', gzip' if info.compressed else ''}"
        verdict = "OK" if report.status == "ok" else "ERRORS"
        if not fatal:
            lines.append(f"{verdict}  {report.source} ({shape}) for {report.channel}")
        lines.append(
            f"  {count(report.items_total, 'item')}: {report.items_with_errors:,} with errors (rejected by the channel), "
            f"{report.items_with_warnings:,} with warnings only"
        )
        if info.parts:
            lines.append(f"  read in {count(info.parts, 'part')} side by side")
    if report.publish is not None:
        lines.append(_publish_line(report))
    if report.events is not None:
        lines.append(events_summary(report.events.summary, report.log))
    else:
        lines.extend(_top_findings(report.log))
    lines.append(paths_line(paths))
    return "\n".join(lines)


def events_summary(summary: dict[str, object], log: FindingLog) -> str:
    """The events' part: counts, the match rate by event name, the revenue at risk and the top unmatched ids."""
    s: dict[str, Any] = summary
    lines = [
        f"  {count(s['total'], 'event')} read ({s['unique']:,} after deduplication, "
        f"{count(s['duplicates'], 'duplicate')}); "
        f"{s['missing_value']:,} without value, {s['missing_currency']:,} without currency, "
        f"{s['invalid_currency']:,} with an invalid currency"
    ]
    if s.get("match_rate") is not None:
        lines.append(f"  catalog match rate {percent(s['match_rate'])} of events "
                     f"({percent(s['match_rate_lines'])} of content lines)")
        for name, stats in s["by_name"].items():
            matched = f"{stats['matched_events']:>8,} / {stats['events']:<8,}"
            lines.append(f"    {name:<14} {matched} {percent(stats['match_rate'])}")
        risk = money(s["revenue_at_risk"])
        no_ids = money(s["revenue_at_risk_without_content_ids"])
        lines.append(f"  revenue at risk (purchases not matched to the catalog): {risk or 'none'}"
                     + (f", of which without any content_id: {no_ids}" if no_ids else ""))
        top = s["top_unmatched"][:5]
        if top:
            lines.append("  top unmatched ids:")
            lines.extend(
                f"    {row['content_id']:<24} {row['reason']:<20} {row['events']:>6,} events"
                + (f"  {row['revenue']:,.2f} {row['currency']}" if row["revenue"] else "")
                + (f"  -> {row['suggested_id']}" if row["suggested_id"] else "")
                for row in top
            )
    lines.extend(_top_findings(log))
    return "\n".join(lines)


def _publish_line(report: FeedReport) -> str:
    result = report.publish
    assert result is not None
    if result.outcome == "published" and result.manifest is not None:
        return f"  published {count(result.manifest['items'], 'item')} to {result.manifest['file']}"
    if result.outcome == "unchanged":
        return "  nothing new to publish: the published catalog is already this one"
    return f"  NOT PUBLISHED: {result.reason}"


def _top_findings(log: FindingLog) -> list[str]:
    """The codes to fix first, each with its first example: where the item is, and what to do."""
    top = top_codes({"findings": log.summary()}, log, limit=TOP_FINDINGS, examples=1)
    if not top:
        return []
    lines = ["  top findings:"]
    for entry in top:
        lines.append(f"    {entry['count']:>8,}  {entry['severity']:<7}  {entry['code']}")
        lines += [f"              e.g. {item_label(f)}: {truncate(f.message, 160)}" for f in entry["examples"]]
    return lines


def paths_line(paths: dict[str, Path]) -> str:
    """Where the reports were written."""
    return "  reports: " + "  ".join(str(p) for p in paths.values())
