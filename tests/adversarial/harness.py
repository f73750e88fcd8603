"""Run feedcheck on one hostile input in a child process, and measure what the child alone spent.

Time is the child's wall time; memory is its peak resident set, read with
``wait4`` (libxml2, zlib and Arrow allocate outside Python's allocator, where
``tracemalloc`` cannot see).  The child runs under an address-space limit, so
a defence that fails shows as a failed test rather than a machine that swaps.
Children are forked by ``child.py``, which imported feedcheck once.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
CHILD = Path(__file__).resolve().parent / "child.py"


@dataclass(frozen=True)
class Outcome:
    """How a child ended: its exit code, wall seconds, peak RSS in MiB and what it printed."""

    exit_code: int
    seconds: float
    peak_mib: float
    stdout: str
    stderr: str


def clean_env() -> dict[str, str]:
    """This process's environment without Prefect's settings: a child starts as a user's shell would start it,
    not inside the test's temporary Prefect server."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}


def cli_check(source: str, out: Path, *, timeout: float, deadline: float | None = None) -> Outcome:
    """``feedcheck check SOURCE --out OUT`` in a child, as its console script runs it."""
    argv = ["check", source, "--channel", "google", "--out", str(out)]
    if deadline is not None:
        argv += ["--timeout", str(deadline)]
    return forked("cli", argv, cwd=out.parent, tmpdir=fresh(out.parent / "tmp-cli"), timeout=timeout)


def cli_events(log: str, catalog: str, out: Path, *, timeout: float) -> Outcome:
    """``feedcheck events LOG --catalog CATALOG --out OUT`` in a child."""
    argv = ["events", log, "--catalog", catalog, "--out", str(out)]
    return forked("cli", argv, cwd=out.parent, tmpdir=fresh(out.parent / "tmp-cli"), timeout=timeout)


def library_check(source: str, folder: Path, *, timeout: float, deadline: float | None = None,
                  channel: str = "google", events: tuple[str, ...] = ()) -> tuple[Outcome, dict[str, Any]]:
    """``feedcheck.check_feed`` in a child (with ``events``, its event logs too); its outcome and report."""
    argv = [source, channel, json.dumps({"deadline": deadline} if deadline else {}), *events]
    done = forked("library", argv, cwd=folder, tmpdir=fresh(folder / "tmp-library"), timeout=timeout)
    assert done.stdout.strip(), done.stderr
    return done, json.loads(done.stdout)


def forked(entry: str, argv: list[str], *, cwd: Path, tmpdir: Path, timeout: float,
           env: dict[str, str] | None = None) -> Outcome:
    """Run ``entry`` (``cli``: ``feedcheck ARGV``; ``library``: see ``child.py``) in a child forked by ``child.py``,
    which imported feedcheck once for the test process, with ``env`` added to its environment; fail the test if
    it still runs after ``timeout``."""
    out, err = cwd / "child.out", cwd / "child.err"
    forks = _forks()
    assert forks.stdin is not None and forks.stdout is not None
    forks.stdin.write(json.dumps({"entry": entry, "argv": argv, "cwd": str(cwd), "tmpdir": str(tmpdir),
                                  "timeout": timeout, "env": env or {}, "stdout": str(out), "stderr": str(err)}) + "\n")
    forks.stdin.flush()
    answer = json.loads(forks.stdout.readline() or "null")
    assert answer is not None, "child.py stopped; see the test's stderr"
    done = Outcome(answer["exit_code"], answer["seconds"], answer["peak_mib"],
                   out.read_text(errors="replace"), err.read_text(errors="replace"))
    out.unlink()
    err.unlink()
    if answer["killed"]:
        raise AssertionError(f"{entry} {' '.join(argv[:2])} still ran after {timeout:g} s (killed)")
    return done


@functools.lru_cache(maxsize=1)
def _forks() -> subprocess.Popen[str]:
    """``child.py``, started once per test process."""
    server = subprocess.Popen([sys.executable, str(CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=clean_env())
    atexit.register(_stop, server)
    return server


def _stop(server: subprocess.Popen[str]) -> None:
    assert server.stdin is not None
    server.stdin.close()
    server.wait(timeout=30)


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def published(out: Path) -> dict[str, bytes | str]:
    """What a feed's folder publishes: every file of every published version, and where the links point."""
    state: dict[str, bytes | str] = {}
    for path in sorted(out.rglob("*")):
        relative = str(path.relative_to(out))
        if path.is_symlink():
            state[relative] = os.readlink(path)
        elif path.is_file() and relative.startswith("published/"):
            state[relative] = path.read_bytes()
    return state


def every_text(out: Path, *printed: str) -> str:
    """Everything a run left for people and machines to read: its report files and what it printed."""
    files = [p.read_text(errors="replace") for p in sorted(out.rglob("*"))
             if p.is_file() and p.suffix in (".json", ".csv", ".md", ".html")]
    return "\n".join([*files, *printed])


def held_by_prefect(flow_run_id: Any) -> str:
    """What Prefect's server holds of a flow run and of every subflow under it: their log lines, artifacts,
    parameters and states, and their task runs' states.  Read page by page, so nothing past the API's default
    limit (200) is missed on a server that earlier tests also used."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # log lines still queued in this process are stored first

    def every(read: Any, **filters: Any) -> list[Any]:
        found: list[Any] = []
        while page := read(**filters, limit=200, offset=len(found)):
            found += page
        return found

    with get_client(sync_client=True) as client:
        runs = every(client.read_flow_runs, flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        ids, parents = [flow_run_id], [flow_run_id]
        while parents:
            children = every(client.read_flow_runs, flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=parents)))
            runs += children
            parents = [run.id for run in children]
            ids += parents
        texts = [str(run.parameters) + str(run.state) for run in runs]
        texts += [log.message for log in every(client.read_logs, log_filter=LogFilter(
            flow_run_id=LogFilterFlowRunId(any_=ids)))]
        texts += [str(a.data) + str(a.description) for a in every(client.read_artifacts, artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=ids)))]
        texts += [str(run.state) for run in every(client.read_task_runs, flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=ids)))]
    return "\n".join(texts)
