"""Run feedcheck on one hostile input in a child process, and measure what the child alone spent.

Time is the child's wall time; memory is its peak resident set, read with
``wait4`` (libxml2, zlib and Arrow allocate outside Python's allocator, where
``tracemalloc`` cannot see).  The child runs under an address-space limit, so
a defence that fails shows as a failed test rather than a machine that swaps.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
CHILD = Path(__file__).resolve().parent / "child.py"
ADDRESS_SPACE = 6 << 30  # pandas, Arrow and lxml reserve far more than they use


@dataclass(frozen=True)
class Outcome:
    """How a child ended: its exit code, wall seconds, peak RSS in MiB and what it printed."""

    exit_code: int
    seconds: float
    peak_mib: float
    stdout: str
    stderr: str


def run_child(argv: list[str], *, timeout: float, cwd: Path, tmpdir: Path,
              env: dict[str, str] | None = None) -> Outcome:
    """Run ``argv`` with ``TMPDIR`` set to ``tmpdir`` (and ``env`` added); fail the test if it is still running
    after ``timeout``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {"TMPDIR": str(tmpdir)} | (
        env or {})
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=cwd, env=env, preexec_fn=_limit)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                child.returncode = os.waitstatus_to_exitcode(status)
                raise AssertionError(f"{' '.join(argv[1:3])} still ran after {timeout:g} s (killed)")
            time.sleep(0.02)
        seconds = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Outcome(child.returncode, seconds, usage.ru_maxrss / 1024, out.read().decode(errors="replace"),
                       err.read().decode(errors="replace"))


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


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


def forked(entry: str, argv: list[str], *, cwd: Path, tmpdir: Path, timeout: float) -> Outcome:
    """Run ``entry`` (``cli``: ``feedcheck ARGV``; ``library``: see ``child.py``) in a child forked by ``child.py``,
    which imported feedcheck once for the test process; fail the test if it still runs after ``timeout``."""
    out, err = cwd / "child.out", cwd / "child.err"
    forks = _forks()
    assert forks.stdin is not None and forks.stdout is not None
    forks.stdin.write(json.dumps({"entry": entry, "argv": argv, "cwd": str(cwd), "tmpdir": str(tmpdir),
                                  "timeout": timeout, "stdout": str(out), "stderr": str(err)}) + "\n")
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
    """``child.py``, started once per test process with the environment a child of ``run_child`` gets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    server = subprocess.Popen([sys.executable, str(CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env)
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
