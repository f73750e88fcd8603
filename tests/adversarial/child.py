"""The library as a script calls it, in a child process: ``check_feed`` on one source; the report on stdout.

Usage: ``child.py SOURCE CHANNEL FETCH_LIMITS_JSON [EVENT_LOG]``.  Any exception escapes as a traceback and a
non-zero exit, which the tests treat as the failure it is.
"""

from __future__ import annotations

import json
import sys

from feedcheck import FetchLimits, check_feed

if __name__ == "__main__":
    source, channel, limits, logs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:]
    report = check_feed(source, channel, fetch_limits=FetchLimits(**limits), events=logs)
    print(json.dumps({"report": report.to_dict(), "messages": [f.message for f in report.log]}))
    sys.exit(report.exit_code)
