"""Every hostile feed through every entry point: the CLI and the library in a child process each, whose time and
memory are measured, and the flows, a dozen feeds to a run.

Each hostile feed must end in its fatal finding, within its budget, with
nothing leaked (no secret in any report, message or Prefect log, no request
to a server it must not reach, no temporary file left behind) and the last
good catalog untouched.  Each damaged but readable feed (odd encodings,
newlines, ragged rows, huge cells) must be read as meant, with its findings.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adversarial.cases import CASES, READABLE, Case, Readable
from tests.adversarial.harness import cli_check, every_text, fresh, held_by_prefect, library_check, published
from tests.conftest import FEEDS, FeedServer


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A feed's folder holding a published catalog: what a hostile run must leave as it was."""
    folder = tmp_path_factory.mktemp("good")
    done = cli_check(str(FEEDS / "google_clean.xml"), folder / "out", timeout=120)
    assert done.exit_code == 0, done.stderr
    assert published(folder / "out")
    return folder / "out"


@pytest.fixture(scope="module")
def baseline_mib(tmp_path_factory: pytest.TempPathFactory) -> float:
    """The peak RSS of a child that checks a tiny feed: interpreter, pandas, pandera and lxml loaded."""
    folder = tmp_path_factory.mktemp("baseline")
    done, _ = library_check(str(FEEDS / "google_clean.xml"), folder, timeout=120)
    assert done.exit_code == 0, done.stderr
    return done.peak_mib


@pytest.fixture
def hostile(tmp_path: Path, server: FeedServer) -> Iterator[tuple[Path, FeedServer]]:
    yield fresh(tmp_path / "input"), server


def _within_budget(case: Case, seconds: float, peak_mib: float, baseline: float) -> None:
    assert seconds < case.seconds, f"{case.name}: {seconds:.1f} s"
    assert peak_mib < baseline + case.mib, f"{case.name}: {peak_mib:.0f} MiB, baseline {baseline:.0f} MiB"


def _nothing_leaked(case: Case, text: str, server: FeedServer, *tmpdirs: Path) -> None:
    for secret in case.absent:
        assert secret not in text
    for name in case.unrequested:
        assert not [path for path in server.hits if path.endswith(f"/{name}")], f"{name} was requested"
    for folder in tmpdirs:
        assert sorted(p.name for p in folder.iterdir()) == [], f"left in {folder}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_cli_ends_in_the_finding_and_keeps_the_last_good_catalog(
        case: Case, hostile: tuple[Path, FeedServer], good_folder: Path, baseline_mib: float) -> None:
    folder, server = hostile
    source = case.make(folder, server)
    out = folder.parent / "out"
    shutil.copytree(good_folder, out, symlinks=True)
    before = published(out)
    done = cli_check(source, out, timeout=case.seconds * 2, deadline=case.deadline)
    report = json.loads((out / "report.json").read_text())
    assert done.exit_code == 3, done.stderr
    assert report["status"] == "fatal" and report["fatal"]["code"] == case.code, report["fatal"]
    assert published(out) == before
    _within_budget(case, done.seconds, done.peak_mib, baseline_mib)
    _nothing_leaked(case, every_text(out, done.stdout, done.stderr), server, out.parent / "tmp-cli")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_library_returns_the_finding_without_raising(
        case: Case, hostile: tuple[Path, FeedServer], baseline_mib: float) -> None:
    folder, server = hostile
    source = case.make(folder, server)
    done, result = library_check(source, folder.parent, timeout=case.seconds * 2, deadline=case.deadline)
    assert done.exit_code == 3 and done.stderr == "", done.stderr
    assert result["report"]["status"] == "fatal"
    assert result["report"]["fatal"]["code"] == case.code
    _within_budget(case, done.seconds, done.peak_mib, baseline_mib)
    _nothing_leaked(case, done.stdout, server, folder.parent / "tmp-library")


def _read_as_meant(case: Readable, report: dict, seconds: float, peak_mib: float, baseline: float) -> None:
    assert report["status"] != "fatal", report["fatal"]
    assert report["items"]["total"] == case.items
    assert set(case.codes) <= set(report["findings"]["by_code"]), report["findings"]["by_code"]
    assert seconds < case.seconds and peak_mib < baseline + case.mib, (seconds, peak_mib)


@pytest.mark.parametrize("case", READABLE, ids=[c.name for c in READABLE])
def test_the_cli_reads_a_damaged_feed_as_meant(case: Readable, hostile: tuple[Path, FeedServer],
                                               baseline_mib: float) -> None:
    folder, server = hostile
    out = folder.parent / "out"
    done = cli_check(case.make(folder, server), out, timeout=case.seconds * 2)
    assert done.exit_code == case.exit_code, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert (report["status"] == "refused") == case.refused, report["status"]
    _read_as_meant(case, report, done.seconds, done.peak_mib, baseline_mib)
    if case.published:
        assert case.published in (out / "catalog.csv").read_text(encoding="utf-8")
    assert case.says in (out / "findings.csv").read_text(encoding="utf-8-sig")
    _nothing_leaked(Case(case.name, case.make, ""), "", server, out.parent / "tmp-cli")


@pytest.mark.parametrize("case", READABLE, ids=[c.name for c in READABLE])
def test_the_library_reads_a_damaged_feed_as_meant(case: Readable, hostile: tuple[Path, FeedServer],
                                                   baseline_mib: float) -> None:
    folder, server = hostile
    done, result = library_check(case.make(folder, server), folder.parent, timeout=case.seconds * 2)
    assert done.exit_code == (1 if case.refused else case.exit_code) and done.stderr == "", result["messages"]
    _read_as_meant(case, result["report"], done.seconds, done.peak_mib, baseline_mib)
    assert any(case.says in message for message in result["messages"])


GROUPS = 3  # flow runs, spread over the test workers; 12 feeds in one run of the temporary server at a time


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.parametrize("group", range(GROUPS), ids=[f"group{g}" for g in range(GROUPS)])
def test_the_flows_end_each_feed_as_the_cli_does_and_keep_every_last_good_catalog(
        group: int, tmp_path: Path, server: FeedServer, good_folder: Path) -> None:
    from feedcheck.flows import check_all_feeds

    cases, readables = CASES[group::GROUPS], READABLE[group::GROUPS]
    entries, before = [], {}
    for n, case in enumerate(cases):
        name = f"hostile-{n}"
        source = case.make(fresh(tmp_path / name), server)
        shutil.copytree(good_folder, tmp_path / "out" / name, symlinks=True)
        before[name] = published(tmp_path / "out" / name)
        timeout = f"\ntimeout = {case.deadline}" if case.deadline else ""
        entries.append(f'[[feed]]\nname = "{name}"\nsource = "{source}"\nchannel = "google"{timeout}\n')
    for n, readable in enumerate(readables):
        source = readable.make(fresh(tmp_path / f"damaged-{n}"), server)
        entries.append(f'[[feed]]\nname = "damaged-{n}"\nsource = "{source}"\nchannel = "google"\n')
    config = tmp_path / "feeds.toml"
    config.write_text(f'[defaults]\nout = "{tmp_path / "out"}"\n\n' + "\n".join(entries))
    state = check_all_feeds(str(config), fetch_retries=1, retry_delay_seconds=0.1, return_state=True)
    failed = len(cases) + sum(1 for readable in readables if readable.exit_code >= 2)
    assert state.is_failed() and state.message.startswith(f"{failed} of {len(cases) + len(readables)} feeds failed")
    logs = held_by_prefect(state.state_details.flow_run_id)
    for n, case in enumerate(cases):
        out = tmp_path / "out" / f"hostile-{n}"
        report = json.loads((out / "report.json").read_text())
        assert report["fatal"]["code"] == case.code, case.name
        assert published(out) == before[f"hostile-{n}"], case.name
        _nothing_leaked(case, every_text(out, logs), server)
    for n, readable in enumerate(readables):
        report = json.loads((tmp_path / "out" / f"damaged-{n}" / "report.json").read_text())
        assert report["items"]["total"] == readable.items, readable.name
        assert set(readable.codes) <= set(report["findings"]["by_code"]), readable.name
