"""A full disk under the output folder: the run says so and ends, the catalog published last stays whole, and
nothing half-written is left (a real tmpfs, filled to its last byte; the tests run as root)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.soak.faults import SmallDisk
from feedcheck.errors import ExitCode
from feedcheck.flows import check_one_feed, outcome_of
from tests.conftest import FEEDS, run


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    small = SmallDisk(tmp_path / "disk", megabytes=4)
    try:
        yield small
    finally:
        SmallDisk.unmount(small.folder)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_onto_a_full_disk_says_so_and_keeps_the_last_catalog(disk: SmallDisk) -> None:
    out = disk.folder / "out"
    command = ["check", str(FEEDS / "tiktok_clean.csv"), "--out", str(out), "--force"]
    assert run(*command).returncode == ExitCode.OK
    before = _digest(out / "catalog.csv")
    disk.fill()
    full = run(*command)
    assert full.returncode == ExitCode.UNUSABLE, full.stdout + full.stderr
    assert f"The run's files could not be written to {out}: No space left on device" in full.stderr
    assert "Traceback" not in full.stderr
    assert _digest(out / "catalog.csv") == before
    assert not [p.name for p in out.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".staging-")]


def test_a_flow_run_onto_a_full_disk_fails_with_the_reason(disk: SmallDisk, tmp_path: Path) -> None:
    config = tmp_path / "feeds.toml"
    config.write_text(f'[[feed]]\nname = "shop"\nsource = "{FEEDS / "tiktok_clean.csv"}"\n'
                      f'out = "{disk.folder / "shop"}"\n')
    assert check_one_feed("shop", str(config), return_state=True).is_completed()
    disk.fill()
    state = check_one_feed("shop", str(config), force=True, return_state=True)
    assert state.is_failed() and "No space left on device" in state.message
    assert outcome_of(state)["status"] == "fatal"
