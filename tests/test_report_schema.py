"""report.json follows docs/report.schema.json in every kind of run (and conftest checks every report written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FEEDS, FIXTURES, run, schema_problems

EVENTS = FIXTURES / "events"


@pytest.mark.parametrize("args", [
    ["check", str(FEEDS / "tiktok_clean.csv")],
    ["check", str(FEEDS / "google_defects.xml"), "--channel", "google", "--no-publish"],
    ["check", str(FEEDS / "tiktok_defects.csv")],
    ["check", str(FIXTURES / "hostile" / "billion_laughs.xml")],
    ["check", str(EVENTS / "northwind_catalog.csv"), "--events", str(EVENTS / "server_eapi2.jsonl")],
    ["events", str(EVENTS / "flat_defects.json")],
    ["events", str(EVENTS / "garbage.jsonl"), "--catalog", str(FEEDS / "meta_catalog.tsv"), "--channel", "meta"],
])
def test_report_matches_the_schema(tmp_path: Path, args: list[str]) -> None:
    done = run(*args, "--out", str(tmp_path))
    assert done.returncode in (0, 1, 3), done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert schema_problems(report) == []


def test_a_second_run_with_history_matches_the_schema(tmp_path: Path) -> None:
    for feed in ("tiktok_clean.csv", "tiktok_clean.csv.gz"):
        run("check", str(FEEDS / feed), "--out", str(tmp_path), "--format", "parquet")
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["since_last_run"] is not None and schema_problems(report) == []


def test_the_schema_rejects_what_it_should() -> None:
    assert schema_problems({"report_version": "1", "status": "fine", "fatal": None, "findings": {}}) != []
