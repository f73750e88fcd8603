"""Long checks show how far they have got on a terminal, and nothing anywhere else."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import generate  # the benchmark's generator: real-shaped feeds and logs with known defects
from feedcheck.events.checker import check_events
from feedcheck.reports.progress import Progress

BIN = Path(sys.executable).parent


def test_the_line_counts_each_kind_with_its_rate_and_is_cleared_at_the_end() -> None:
    stream = io.StringIO()
    progress = Progress(stream, every=0)
    progress("items", 50_000)
    progress("items", 50_000)
    progress("events", 7)
    drawn = stream.getvalue().split("\r")[1:]
    assert [line.split(" (")[0] for line in drawn] == ["items 50,000", "items 100,000", "items 100,000"]
    assert " · events 7 (" in drawn[-1] and drawn[-1].rstrip().endswith("s")
    progress.close()
    assert stream.getvalue().endswith("\r" + " " * len(drawn[-1]) + "\r")


def test_the_line_is_redrawn_at_most_every_so_often() -> None:
    stream = io.StringIO()
    progress = Progress(stream, every=3600)
    for _ in range(1_000):
        progress("events", 1)
    assert stream.getvalue() == "" and progress.counts == {"events": 1_000}
    progress.close()
    assert stream.getvalue() == ""


def test_the_library_counts_every_event_read_whichever_reader_reads_it(inputs: tuple[Path, Path]) -> None:
    # The generated log is read a block at a time; the fixtures' shapes record by record.
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "events"
    for logs in ([inputs[1]], [fixtures / "server_eapi2.jsonl", fixtures / "pixel_browser.jsonl"]):
        progress = Progress(io.StringIO(), every=3600)
        report = check_events(logs, progress=progress)
        assert progress.counts == {"events": report.summary["total"]} and report.summary["total"] > 0


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("progress")
    generate.write_delimited(folder / "feed.csv", 60_000, seed=5, delimiter=",")
    generate.write_events(folder / "events.jsonl", 30_000, catalog_items=60_000, seed=5)
    return folder / "feed.csv", folder / "events.jsonl"


def _run(inputs: tuple[Path, Path], out: Path, terminal: bool, **env: str) -> tuple[int, str, str]:
    """``feedcheck check`` with standard error on a real pseudo-terminal (or a pipe); its code, stdout, stderr."""
    feed, events = inputs
    command = [str(BIN / "feedcheck"), "check", str(feed), "--events", str(events), "--out", str(out),
               "--no-publish"]
    environment = {k: v for k, v in os.environ.items() if k != "CI"} | env
    if not terminal:
        done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
        return done.returncode, done.stdout, done.stderr
    controller, follower = pty.openpty()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower, env=environment) as child:
        os.close(follower)
        seen = bytearray()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if not select.select([controller], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed with the child
                break
            if not chunk:
                break
            seen += chunk
        else:
            child.kill()  # it hung: the test fails on its code, not waiting for ever
        stdout = child.stdout.read().decode() if child.stdout else ""
        code = child.wait(timeout=300)
    os.close(controller)
    return code, stdout, seen.decode()


def test_a_terminal_sees_items_and_events_counted_then_cleared(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    code, stdout, stderr = _run(inputs, tmp_path / "out", terminal=True)
    assert code == 1 and "60,000 items" in stdout
    assert "items 60,000 (" in stderr
    assert stderr.endswith("\r") and stderr.rsplit("\r", 2)[-2].strip() == ""  # the line was cleared


@pytest.mark.parametrize(("terminal", "env"), [(False, {}), (True, {"CI": "true"})])
def test_nothing_is_drawn_into_a_pipe_or_in_ci(inputs: tuple[Path, Path], tmp_path: Path, terminal: bool,
                                              env: dict[str, str]) -> None:
    code, stdout, stderr = _run(inputs, tmp_path / "out", terminal=terminal, **env)
    assert code == 1 and "60,000 items" in stdout
    assert "items 1" not in stderr and "\r" not in stderr
