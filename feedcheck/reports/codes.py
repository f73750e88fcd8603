"""``docs/codes.md`` and ``docs/coverage.md``, written from the registries: every finding code
(:data:`feedcheck.findings.CODES`) with its severity by default and on each channel and the registered checks
that raise it (:data:`feedcheck.rules.checks.RULES`); and per channel, every attribute its schema lists with
the checks, codes, severities and sources that cover it.

    python -m feedcheck.reports.codes docs/

A test fails when a checked-in file differs from what this writes, so the documentation cannot fall behind
the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from feedcheck.findings import CODES
from feedcheck.readers.fields import canonical
from feedcheck.rules.channels import CHANNEL_NAMES, Channel, get_channel
from feedcheck.rules.checks import RULES

INTRO = """# Finding codes

Every finding feedcheck reports has one of these codes. Codes are stable: scripts and dashboards may rely on them.
Severity is the default; the channel columns show where a channel differs (declared with the code, `on=`).
*Fatal* codes mean the source could not be used at all (exit code 3). Rule = the pandera check that raises it.

This file is written by `python -m feedcheck.reports.codes docs/`; edit the registries, not this file.
"""

NOTES = """Rows: for CSV/TSV, `row` is the spreadsheet row (the header is row 1; a cell spanning several lines is one row);
for RSS/Atom, `row` is the item's number (the first item is 1).

Event findings (`events.*`): `item_id` is the event's `event_id`, or `file:line` when it has none; `row` is the
line in the log where the record starts, and `source` is `file:line`. Checks that depend on the event apply to
purchase events as errors and to the other catalog events (ViewContent, AddToCart) as warnings.

Match findings (`match.*`) have one finding per content_id (not per event), most revenue first; `item_id` is the
content_id as the events sent it. `match.rate_low` is an error under 50% and a warning under 90%, per event name.
"""


# The families of codes in the order a run meets them; within a family, codes are in alphabetical order.
FAMILIES = ("config", "fetch", "decode", "feed", "xml", "csv", "item", "gate", "publish", "history", "events", "match")


def codes_markdown() -> str:
    """The whole of ``docs/codes.md``."""
    channels = [get_channel(name) for name in CHANNEL_NAMES]
    head = ["code", "severity", *(channel.name for channel in channels), "fatal", "what it means", "rule"]
    lines = [INTRO, "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for code, spec in sorted(CODES.items(), key=lambda kv: (FAMILIES.index(kv[0].split(".")[0]), kv[0])):
        rules = ", ".join(f"`{name}`" for name, rule in RULES.items() if rule.code == code)
        on_channels = [_differs(channel.severity_of(code).value, spec.severity.value) for channel in channels]
        cells = [f"`{code}`", spec.severity.value, *on_channels, "yes" if spec.fatal else "", spec.title, rules]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + NOTES


def _differs(on_channel: str, default: str) -> str:
    """A channel's severity where it is not the default; blank where it is."""
    return on_channel if on_channel != default else ""


COVERAGE_INTRO = """# Channel coverage

What feedcheck checks of each channel's attributes. Where the channel has an attribute register
(`schemas/<channel>_attributes.tsv`, written from its specification), every attribute of its specification is
listed, checked or not, with whether the channel requires it; otherwise every field its schema in `schemas/`
lists. For each: the checks run on it (and the checks across fields that report on it), the finding code each
raises with its severity on that channel (or the one the schema gives that check; for a requirement that
depends on the countries, the one without `--countries`), and the channel's page the rule or the attribute
follows.

This file is written by `python -m feedcheck.reports.codes docs/`; edit the registers, the schemas and the
rules, not this file.
"""


def coverage_markdown() -> str:
    """The whole of ``docs/coverage.md``: per channel, attribute × check × code, severity and source."""
    parts = [COVERAGE_INTRO]
    for name in CHANNEL_NAMES:
        channel = get_channel(name)
        checks = _checks_by_field(channel)
        fields = [*channel.attributes, *(f for f in checks if f not in channel.columns)]  # sku_id is the column id
        parts += [f"## {channel.title}", "", checked_line(channel), "",
                  "| attribute | requirement | check | code | severity | source |", "|---|---|---|---|---|---|"]
        for field in fields:
            attribute = channel.attributes.get(field)
            requirement = attribute.requirement if attribute else ""
            for check, chosen in checks.get(canonical(field)) or [("", "")]:
                rule = RULES.get(check)
                source = (attribute.source if attribute else "") or (channel.source_of(rule.code) if rule else "")
                severity = chosen or (channel.severity_of(rule.code).value if rule else "")
                cells = [f"`{field}`", requirement, f"`{check}`" if check else "not checked",
                         f"`{rule.code}`" if rule else "", severity, source]
                parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)


def checked_line(channel: Channel) -> str:
    """``Google Merchant Center: 40 of 95 attributes checked``: of the attributes of its register, or, for a
    channel without one, of the fields its schema lists."""
    checks = _checks_by_field(channel)
    if not channel.attributes:
        checked = sum(1 for names in checks.values() if names)
        return f"{channel.title}: {checked} of the {len(checks)} fields its schema lists checked (no attribute register yet)"
    checked = sum(1 for field in channel.attributes if checks.get(canonical(field)))
    return f"{channel.title}: {checked} of {len(channel.attributes)} attributes checked"


def _checks_by_field(channel: Channel) -> dict[str, list[tuple[str, str]]]:
    """The checks that report on each field of the channel's schema, in the schema's order: each check's name,
    and the severity it chooses when it chooses one (a requirement that depends on the countries)."""
    schema = channel.schema(currency=None, now="2026-01-01T00:00:00+00:00")  # any moment lists the same checks
    found = {field: [(check.name, check.statistics.get("severity", "")) for check in column.checks]
             for field, column in schema.columns.items()}
    for check in schema.checks:
        found.setdefault(check.statistics["field"], []).append((check.name, check.statistics.get("severity", "")))
    return found


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    (folder / "codes.md").write_text(codes_markdown(), encoding="utf-8")
    (folder / "coverage.md").write_text(coverage_markdown(), encoding="utf-8")
