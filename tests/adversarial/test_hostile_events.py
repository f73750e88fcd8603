"""Broken and hostile event logs through the CLI and the library in measured child processes, and through the
flows: each broken record costs itself a finding, the good events around it are all read, and time and memory
stay bounded (a 300 MB line, a gzip bomb, 100,000-deep nesting)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.adversarial.cases import CATALOG, EVENT_CASES, EventCase
from tests.adversarial.harness import cli_events, fresh, library_check


@pytest.fixture(scope="module")
def baseline_mib(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The peak RSS of a child that checks the catalog against a clean log."""
    folder = tmp_path_factory.mktemp("baseline")
    log = folder / "clean.jsonl"
    log.write_text((CATALOG.parent / "server_eapi2.jsonl").read_text())
    done, _ = library_check(str(CATALOG), folder, timeout=120, channel="tiktok", events=(str(log),))
    assert done.exit_code in (0, 1), done.stderr
    return done.peak_mib


def _read_what_can_be_read(case: EventCase, summary: dict[str, Any], codes: dict[str, int]) -> None:
    assert summary["unique"] == case.events, summary
    assert set(case.codes) <= set(codes), codes


@pytest.mark.parametrize("case", EVENT_CASES, ids=[c.name for c in EVENT_CASES])
def test_the_cli_reads_every_good_event_of_a_broken_log(case: EventCase, tmp_path: Path,
                                                       baseline_mib: float) -> None:
    log = case.make(fresh(tmp_path / "input"))
    done = cli_events(log, str(CATALOG), tmp_path / "out", timeout=case.seconds * 2)
    assert done.exit_code == 1, done.stdout + done.stderr  # error findings, and a report
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    _read_what_can_be_read(case, report["events"], report["findings"]["by_code"])
    assert done.seconds < case.seconds and done.peak_mib < baseline_mib + case.mib, (done.seconds, done.peak_mib)
    assert list((tmp_path / "tmp-cli").iterdir()) == []


@pytest.mark.parametrize("case", EVENT_CASES, ids=[c.name for c in EVENT_CASES])
def test_the_library_reads_every_good_event_of_a_broken_log(case: EventCase, tmp_path: Path,
                                                           baseline_mib: float) -> None:
    log = case.make(fresh(tmp_path / "input"))
    done, result = library_check(str(CATALOG), tmp_path, timeout=case.seconds * 2, channel="tiktok",
                                 events=(log,))
    assert done.stderr == "" and done.exit_code == 1
    report = result["report"]
    _read_what_can_be_read(case, report["events"], report["findings"]["by_code"])
    assert done.seconds < case.seconds and done.peak_mib < baseline_mib + case.mib, (done.seconds, done.peak_mib)


@pytest.mark.usefixtures("prefect_api")
def test_the_flows_read_every_good_event_of_each_broken_log(tmp_path: Path) -> None:
    from feedcheck.flows import check_all_feeds

    entries = []
    for n, case in enumerate(EVENT_CASES):
        log = case.make(fresh(tmp_path / f"log-{n}"))
        entries.append(f'[[feed]]\nname = "events-{n}"\nsource = "{CATALOG}"\nevents = ["{log}"]\n')
    config = tmp_path / "feeds.toml"
    config.write_text(f'[defaults]\nout = "{tmp_path / "out"}"\n\n' + "\n".join(entries))
    state = check_all_feeds(str(config), return_state=True)
    assert state.is_completed(), state.message  # broken logs are findings; every catalog is published
    for n, case in enumerate(EVENT_CASES):
        report = json.loads((tmp_path / "out" / f"events-{n}" / "report.json").read_text())
        _read_what_can_be_read(case, report["events"], report["findings"]["by_code"])
