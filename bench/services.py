"""Real services on 127.0.0.1 that the tests and the soak start: a PostgreSQL cluster in a folder of its own,
and a Prefect server whose database is in it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Postgres:
    """A PostgreSQL cluster on 127.0.0.1, run by the ``postgres`` user when the tests run as root."""

    port: int
    data: Path
    bin: Path

    @property
    def url(self) -> str:
        """Prefect's connection URL for the database ``prefect``."""
        return self.database("prefect")

    def database(self, name: str) -> str:
        """Prefect's connection URL for the database ``name`` (made by :meth:`create`)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def create(self, name: str) -> str:
        """A new database ``name``; its connection URL."""
        subprocess.run(_as_postgres([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                                     "postgres", name]), check=True, capture_output=True, timeout=60)
        return self.database(name)

    def ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data / "data"), "-w", *args]),
                       check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.ctl("-l", str(self.data / "postgres.log"), "-o",
                 f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1", "start")

    def restart(self) -> None:
        self.ctl("-l", str(self.data / "postgres.log"), "-m", "fast", "restart")  # the log: no pipe held open


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` as the ``postgres`` user when this is root (initdb and pg_ctl refuse to run as root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_postgres(data: Path) -> Postgres:
    """Debian's PostgreSQL (tests/ensure-system.sh installs it): a new cluster in ``data`` (a folder the
    ``postgres`` user may enter) on a free port, started, with the database ``prefect``."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run sh tests/ensure-system.sh (the README's test command "
                           "does)")
    data.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    cluster = Postgres(free_port(), data, found[-1].parent)
    subprocess.run(_as_postgres([str(cluster.bin / "initdb"), "-D", str(data / "data"), "--auth=trust", "-U",
                                 "postgres", "-E", "UTF8"]), check=True, capture_output=True, timeout=120)
    cluster.start()
    cluster.create("prefect")
    return cluster


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@dataclass
class PrefectServer:
    """``prefect server start`` on 127.0.0.1 with its database in PostgreSQL."""

    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1", "--port",
             str(self.port)], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited with {self.process.returncode}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.api}/health", timeout=2).ok:
                    return
            time.sleep(0.5)
        raise RuntimeError("prefect server did not answer in 120 s")

    def stop(self) -> None:
        """Stop the server as a service manager does: SIGTERM, and SIGKILL (to it and its
        children) if it has not stopped in a minute."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            for child in children_of(self.process.pid):  # what it started, which would outlive it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()
