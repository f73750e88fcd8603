"""How far a long check has got, on one line of a terminal: items and events read, and their rates.

The library only counts (``check_feed(..., progress=)`` and
``check_events(..., progress=)`` call back with each batch read); the CLI
draws the line.  It draws nothing unless standard error is a terminal and
``CI`` is unset, so CI logs, cron mails and Prefect runs stay as they were.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO


class Progress:
    """Counts per kind (``items``, ``events``), redrawn on one line at most every ``every`` seconds.

    Use it as the ``progress`` callback; :meth:`close` shows the totals and
    clears the line, so what the command prints next starts on a clean one.
    """

    def __init__(self, stream: TextIO, every: float = 0.5) -> None:
        self.stream = stream
        self.every = every
        self.counts: dict[str, int] = {}
        self._started = time.monotonic()
        self._drawn_at = self._started
        self._width = 0

    @classmethod
    def for_terminal(cls, stream: TextIO = sys.stderr) -> Progress | None:
        """A progress line on ``stream`` when a person is watching it; ``None`` in CI or when it is redirected."""
        if os.environ.get("CI") or not stream.isatty():
            return None
        return cls(stream)

    def __call__(self, kind: str, n: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n
        now = time.monotonic()
        if now - self._drawn_at >= self.every:
            self._drawn_at = now
            self._draw(now)

    def line(self, now: float) -> str:
        """``items 200,000 (41,000/s) · events 1,000,000 (98,000/s) · 12s``."""
        elapsed = max(now - self._started, 1e-9)
        parts = [f"{kind} {n:,} ({n / elapsed:,.0f}/s)" for kind, n in self.counts.items()]
        return " · ".join([*parts, f"{elapsed:.0f}s"])

    def close(self) -> None:
        """Draw the final counts, if a line was drawn at all, and clear it: however the last batches fell
        between redraws, the line ends on the totals."""
        if self._width:
            self._draw(time.monotonic())
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def _draw(self, now: float) -> None:
        text = self.line(now)
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(text))
