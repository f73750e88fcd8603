"""The CLI and the library in child processes, each forked from this process, which imported feedcheck once.

Run as ``child.py``, this reads one JSON request a line on stdin: ``entry``, ``argv``, ``cwd``, ``tmpdir``,
``timeout``, ``env`` (added to the child's environment) and the files for the child's ``stdout`` and ``stderr``.
For each it forks a child under the address-space limit that runs the entry:

- ``cli``: ``feedcheck ARGV``, as the console script does (``sys.exit(main(ARGV))``);
- ``library``: ``check_feed`` as a script calls it (ARGV: SOURCE CHANNEL FETCH_LIMITS_JSON [EVENT_LOG ...]),
  printing the report as JSON and exiting with its exit code.

It answers with a JSON line: the child's exit code, wall seconds, peak RSS in MiB (``wait4``) and whether it
was killed at its timeout.  Each child is a process of its own, measured alone, without paying the imports
(about three seconds) again.  An exception that escapes either entry is a traceback on the child's stderr and
exit code 1, which the tests treat as the failure it is.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from typing import Any

from feedcheck import FetchLimits, check_feed
from feedcheck.cli import main

ADDRESS_SPACE = 6 << 30  # pandas, Arrow and lxml reserve far more than they use


def _check(source: str, channel: str, limits: str, *logs: str) -> int:
    report = check_feed(source, channel, fetch_limits=FetchLimits(**json.loads(limits)), events=list(logs))
    print(json.dumps({"report": report.to_dict(), "messages": [f.message for f in report.log]}))
    return report.exit_code


def _child(request: dict[str, Any]) -> None:
    """In the forked child: set up as a fresh process would be, check, and exit without returning."""
    code = 1
    try:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        os.chdir(request["cwd"])
        os.environ.update(request["env"], TMPDIR=request["tmpdir"])
        tempfile.tempdir = None  # gettempdir() looks at TMPDIR again
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, name in ((1, "stdout"), (2, "stderr")):
            os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        code = main(request["argv"]) if request["entry"] == "cli" else _check(*request["argv"])
    except BaseException:  # noqa: BLE001 - reported as a traceback, as an interpreter would
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(request)
        killed = False
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() - started > request["timeout"]:
                os.kill(pid, signal.SIGKILL)
                _, status, usage = os.wait4(pid, 0)
                killed = True
                break
            time.sleep(0.02)
        print(json.dumps({"exit_code": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - started,
                          "peak_mib": usage.ru_maxrss / 1024, "killed": killed}), flush=True)


if __name__ == "__main__":
    _serve()
