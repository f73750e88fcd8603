"""Write what a check found: CSV for spreadsheets, ``report.json`` for machines, Markdown and HTML for people.

Files are written atomically (temp file in the same folder, fsync, rename), so
a reader never sees half a report.  CSV cells that a spreadsheet would run as
a formula are neutralised as OWASP recommends for CSV injection.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from feedcheck.findings import FINDING_COLUMNS, Finding, Severity
from feedcheck.reports.render import render_html, render_markdown

REPORT_VERSION = "1"
MISMATCH_COLUMNS = ("content_id", "reason", "suggested_id", "events", "revenue", "currency", "first_seen", "last_seen")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")  # what spreadsheets run
_QUOTED = (*FORMULA_START, "'")  # a leading quote is the spreadsheet's own mark of text, so it is quoted too


def safe_cell(value: object) -> str:
    """Neutralise a value a spreadsheet would execute as a formula, as text a spreadsheet shows as written.

    >>> safe_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> safe_cell("12.50 USD"), safe_cell("'quoted")
    ('12.50 USD', "''quoted")
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_QUOTED) else text


def cell_value(cell: str) -> str:
    """The value :func:`safe_cell` neutralised, as it was.

    >>> all(cell_value(safe_cell(v)) == v for v in ("=1+1", "'quoted", "''", "plain", ""))
    True
    """
    return cell[1:] if cell.startswith("'") else cell


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step; a crash leaves the old file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def rows_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    """Rows as spreadsheet-safe CSV, like :func:`findings_csv`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row[c]) for c in columns])
    return buffer.getvalue().encode("utf-8-sig")


def findings_csv(findings: Iterable[Finding]) -> bytes:
    """Findings as spreadsheet-safe CSV (UTF-8 with BOM so Excel reads accents)."""
    return rows_csv(FINDING_COLUMNS, (f.as_dict() for f in findings))


def read_findings(path: Path) -> list[Finding]:
    """The findings a ``findings.csv`` holds, as :func:`findings_csv` wrote them."""
    with path.open(encoding="utf-8-sig", newline="") as lines:
        rows = list(csv.DictReader(lines))
    return [Finding(**{name: cell_value(row.get(name) or "") for name in FINDING_COLUMNS}
                    | {"severity": Severity(cell_value(row["severity"])), "row": int(row["row"]) if row["row"] else None})
            for row in rows]


def write_reports(
    out_dir: Path,
    report: dict[str, Any],
    findings: Iterable[Finding],
    mismatches: Iterable[dict[str, Any]] | None = None,
) -> dict[str, Path]:
    """Write ``findings.csv``, ``report.json``, ``report.md``, ``report.html`` and (after an event check)
    ``mismatches.csv``; return their paths.

    Each file is written atomically: a write that fails (a full disk) leaves the old file whole.
    """
    findings = list(findings)
    paths = {"findings": out_dir / "findings.csv", "report": out_dir / "report.json",
             "markdown": out_dir / "report.md", "html": out_dir / "report.html"}
    if mismatches is not None:
        paths["mismatches"] = out_dir / "mismatches.csv"
        atomic_write(paths["mismatches"], rows_csv(MISMATCH_COLUMNS, mismatches))
    else:  # an earlier run's mismatches would contradict this report
        (out_dir / "mismatches.csv").unlink(missing_ok=True)
    atomic_write(paths["findings"], findings_csv(findings))
    atomic_write(paths["markdown"], render_markdown(report, findings).encode())
    atomic_write(paths["html"], render_html(report, findings).encode())
    atomic_write(paths["report"], (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode())
    return paths
