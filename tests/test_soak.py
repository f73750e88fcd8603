"""A short soak: 20 feeds on ``feedcheck serve`` against a Prefect server on PostgreSQL for a few minutes, with
serve killed, a flow run killed, the Prefect server and PostgreSQL restarted, Slack down and a full disk
(``bench/soak``, which also runs the long one on demand)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak.checks import CHECKS
from tests.conftest import ROOT


@pytest.mark.timeout(1800)  # the soak's own 25 minutes, then its report
def test_a_short_soak_through_every_fault_loses_nothing(tmp_path: Path) -> None:
    folder, log = tmp_path / "soak", tmp_path / "soak.log"
    code = _soak(["--feeds", "20", "--minutes", "4", "--workdir", str(folder)], log, seconds=1500)
    report = json.loads((folder / "soak-report.json").read_text())
    assert [(check["name"], check["holds"]) for check in report["checks"]] == [(name, True) for name in CHECKS], \
        log.read_text()[-4000:]
    assert code == 0
    faults = [fault["fault"] for fault in report["faults"]]
    assert faults == ["kill serve", "Slack down", "kill a run", "restart Prefect server", "Slack up", "disk full",
                      "restart PostgreSQL", "disk freed"]
    assert "none killed" not in json.dumps(report["faults"])
    assert report["runs"].get("CRASHED", 0) >= 1  # a kill landed in a run, and the run was marked so
    # Feeds that misbehave on every run or every second one; the windows in which a feed vanishes or answers
    # 503 are met by a run or not, as the faults and the machine's load have the runs start late.
    assert {"truncated", "dripped", "unchanged"} <= set(report["host"])


def _soak(args: list[str], log: Path, seconds: float) -> int:
    """``python -m bench.soak ARGS``'s exit code, its output in ``log``. Past ``seconds`` it is stopped with
    SIGTERM, which stops the servers it started, and the test fails."""
    with log.open("w") as out, subprocess.Popen([sys.executable, "-m", "bench.soak", *args], cwd=ROOT, stdout=out,
                                                stderr=subprocess.STDOUT) as soak:
        try:
            return soak.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            soak.send_signal(signal.SIGTERM)
            try:
                soak.wait(timeout=240)
            except subprocess.TimeoutExpired:
                soak.kill()
    pytest.fail(f"the soak took more than {seconds} s: {log.read_text()[-4000:]}")
