"""The processes the soak runs and the faults it injects into them, each at its phase of the soak.

``feedcheck serve`` runs in a process group of its own, with each flow run a child process of it: killing the
group is a lost machine, killing one child is a worker that died mid-run.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.services import Postgres, PrefectServer, children_of
from bench.soak.hosts import SlackSink

BIN = Path(sys.executable).parent


def rss_of(pid: int) -> int | None:
    """A process's resident memory in bytes (``None`` once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return int(line.split()[1]) * 1024 if line else None


@dataclass
class Serve:
    """``feedcheck serve`` of the fleet's feeds file, which the faults kill and start again."""

    config: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen([str(BIN / "feedcheck"), "serve", "--config", str(self.config)],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, cwd=self.config.parent)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL serve and every run it started, as when their machine is lost."""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait()

    def stop(self) -> None:
        """Stop serve as a service manager does (SIGTERM), and wait for it."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait()

    def sample(self) -> None:
        rss = rss_of(self.pid)
        if rss is not None:
            self.samples.setdefault(f"serve (pid {self.pid})", []).append((time.time(), rss))


class SmallDisk:
    """A small tmpfs for some feeds' output, which :meth:`fill` fills to the last byte and :meth:`free` frees."""

    def __init__(self, folder: Path, megabytes: int = 16) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "soak", str(folder)], check=True,
                       capture_output=True, timeout=30)
        self.filler = folder / "filler"

    def fill(self) -> None:
        chunk = b"\0" * (1 << 20)
        with self.filler.open("wb", buffering=0) as out:
            try:
                while True:
                    out.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        for size in (65536, 4096, 1):  # the last partial chunks too: nothing left at all
            with self.filler.open("ab", buffering=0) as out:
                try:
                    while True:
                        out.write(b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    @staticmethod
    def unmount(folder: Path) -> None:
        """Unmount the tmpfs at ``folder``, if one is mounted there."""
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True, timeout=30)


@dataclass
class Fault:
    at: float  # the phase of the soak
    name: str
    act: Callable[[], str]  # does it; says what it did


def timeline(serve: Serve, prefect: PrefectServer, postgres: Postgres | None, slack: SlackSink,
             disk: SmallDisk) -> list[Fault]:
    """The faults of a soak, in the order they come (with no PostgreSQL, all but its restart)."""
    def kill_serve() -> str:
        runs = len(_running(serve))
        serve.kill()
        time.sleep(5)
        serve.start()
        return f"serve and its {runs} running flow run(s) killed, serve started again 5 s later"

    def kill_a_run() -> str:
        running = _running(serve)
        if not running:
            return "no flow run was running for a minute: none killed"
        os.kill(running[0], signal.SIGKILL)
        return f"one running flow run's process (pid {running[0]}) killed; serve went on"

    def slack_down() -> str:
        slack.down = True
        return "Slack answers 503"

    def slack_up() -> str:
        slack.down = False
        return "Slack answers again"

    def restart_prefect() -> str:
        prefect.restart()
        return "Prefect server stopped and started"

    def restart_postgres() -> str:
        assert postgres is not None
        postgres.restart()
        return "PostgreSQL restarted (fast)"

    def disk_full() -> str:
        disk.fill()
        return f"the small file system of some feeds' output is full ({disk.folder})"

    def disk_freed() -> str:
        disk.free()
        return "the small file system has room again"

    return sorted([
        Fault(0.20, "kill serve", kill_serve),
        Fault(0.25, "Slack down", slack_down),
        Fault(0.35, "kill a run", kill_a_run),
        Fault(0.45, "restart Prefect server", restart_prefect),
        Fault(0.48, "Slack up", slack_up),
        Fault(0.52, "disk full", disk_full),
        *([Fault(0.60, "restart PostgreSQL", restart_postgres)] if postgres else []),
        Fault(0.70, "disk freed", disk_freed),
    ], key=lambda fault: fault.at)


KILLS = ("kill serve", "kill a run")


def _running(serve: Serve, seconds: float = 60) -> list[int]:
    """The processes of serve's flow runs, once there is one (waiting up to ``seconds``): a kill is meant to
    land in the middle of runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        children = children_of(serve.pid)
        if children:
            return children
        time.sleep(0.2)
    return []
