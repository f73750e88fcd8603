"""The run's clock: one ``now`` per run, which every rule that compares dates is given.

A rule never reads the wall clock itself, so a check can be replayed at any
moment (``feedcheck check --now 2026-11-20T12:00:00Z``) and a test's verdicts
do not change with the calendar.  A run's ``now`` is the one it was given,
else ``$FEEDCHECK_NOW``, else the current UTC time; ``report.json`` records it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from feedcheck.errors import ConfigError

NOW_VARIABLE = "FEEDCHECK_NOW"


def utc_now() -> str:
    """The wall clock's UTC time as ISO text, to the second (for timestamps such as ``started_at``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def parse_now(text: str, option: str = "now") -> str:
    """A moment given by a person, as UTC ISO text: ``2026-11-20``, ``2026-11-20T12:00Z`` or with an offset.

    A moment without an offset is taken as UTC.

    Raises:
        ConfigError: ``text`` is not an ISO 8601 date or date-time; the message names ``option``.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{option} '{text}' is not a date or time; write it like 2026-11-20T12:00:00Z.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def run_now(given: str | None = None) -> str:
    """The ``now`` of a run that starts: ``given``, else ``$FEEDCHECK_NOW``, else the wall clock.

    Raises:
        ConfigError: ``given`` or the variable is not a moment.
    """
    if given:
        return parse_now(given)
    preset = os.environ.get(NOW_VARIABLE, "").strip()
    return parse_now(preset, f"${NOW_VARIABLE}") if preset else utc_now()


@dataclass(frozen=True)
class Window:
    """The moments at which a check's verdicts still hold, so a cached check is not trusted past them.

    ``now`` is the check's own clock.  ``since`` is the latest moment at or before it, and ``until`` the
    earliest at or after it, at which a clock rule's verdict on some value turns (a sale window's end);
    ``None`` where there is none.  Every moment strictly between them gives the same verdicts.
    """

    now: str
    since: str | None = None
    until: str | None = None

    def holds_at(self, moment: str) -> bool:
        """Whether a check at ``moment`` gives exactly this check's verdicts."""
        if moment == self.now:
            return True
        at = datetime.fromisoformat(moment)
        return ((self.since is None or datetime.fromisoformat(self.since) < at)
                and (self.until is None or at < datetime.fromisoformat(self.until)))

    def around(self, turns: Iterable[datetime]) -> Window:
        """This window narrowed by more moments at which verdicts turn."""
        now = datetime.fromisoformat(self.now)
        since = [datetime.fromisoformat(self.since)] if self.since else []
        until = [datetime.fromisoformat(self.until)] if self.until else []
        for turn in turns:
            (since if turn <= now else until).append(turn)
            if turn == now:
                until.append(turn)
        return Window(self.now, max(since).isoformat() if since else None, min(until).isoformat() if until else None)
