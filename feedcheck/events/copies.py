"""Copies of one event (the same name and ``event_id``): each is checked, and a defect says which copy has it.

The platform keeps one copy of an action the pixel and the server both send (or the server sends twice), and
which one it keeps is not for a log to tell; the copies often differ, one sending numeric ``content_id``s and
the other strings.  So deduplication decides only what is counted and reconciled, and every copy's payload is
checked.  A defect both copies carry is one example naming both; a defect of one copy says which one, on its
own example and on the first copy's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from feedcheck.events.dedup import Bounded
from feedcheck.findings import Finding, FindingLog, Severity
from feedcheck.reports.messages import format_message

# What the copies say about each other, after the defect's own message.
BOTH = " Both copies carry it: {first} and {second}."
ONLY = " Only the {side}copy at {where} has it, not the {other}copy at {other_where}."
SIDES = {"browser": "pixel ", "server": "server "}


@dataclass
class Copy:
    """One copy of an event: where it was read, which side sent it, and its defects with where their examples
    are in the log (``None`` when the log was past its cap and only counted them)."""

    where: str
    origin: str
    defects: dict[tuple[str, str, str], int | None] = field(default_factory=dict)


class Copies:
    """The defects of the first copy of each event, to compare later copies with."""

    def __init__(self, log: FindingLog, max_keys: int) -> None:
        """First copies are kept as deduplication keeps its keys, within ``max_keys``."""
        self.log = log
        self._first: Bounded[tuple[str, str], Copy] = Bounded(max_keys)
        self._current: Copy | None = None  # the copy being checked
        self._compared: Copy | None = None  # for a later copy: the first one
        self._noted: set[int] = set()  # the examples that already say what the copies have

    def first(self, where: str, origin: str) -> None:
        """A first copy (or an event without an ``event_id``) is checked next."""
        self._current, self._compared = Copy(where, origin), None

    def later(self, key: tuple[str, str], where: str, origin: str, first_where: str, first_origin: str) -> None:
        """A later copy of ``key`` is checked next; the first was read at ``first_where``."""
        self._current = Copy(where, origin)
        self._compared = self._first.get(key) or Copy(first_where, first_origin)

    def add(self, code: str, severity: Severity, field: str, value: str, build: Callable[[], Finding]) -> None:
        """One defect of the copy being checked: stored as an example while the log has room, else counted."""
        copy, first, defect = self._current, self._compared, (code, field, value)
        if copy is None:
            self._store(code, severity, build)
            return
        if first is not None and defect in first.defects:
            self.log.count_only(code, severity, 1)
            self._note(first.defects[defect], BOTH, {"first": first.where, "second": copy.where},
                       source=f"{first.where}, {copy.where}")
            copy.defects[defect] = None
            return
        note = (lambda finding: replace(finding, message=finding.message + _only(copy, first))) if first else None
        copy.defects[defect] = self._store(code, severity, build, note)

    def done(self, key: tuple[str, str] | None) -> None:
        """The copy being checked is done: a first copy's defects are kept for later ones (under ``key``), and
        the first copy's defects a later one does not have say that only the first has them."""
        copy, first = self._current, self._compared
        self._current = self._compared = None
        if copy is None:
            return
        if first is None:
            if key is not None and copy.defects:
                self._first.remember(key, copy)
            return
        for defect, index in first.defects.items():
            if defect not in copy.defects:
                self._note(index, ONLY, _sides(first, copy))

    def _store(self, code: str, severity: Severity, build: Callable[[], Finding],
               note: Callable[[Finding], Finding] | None = None) -> int | None:
        return self.log.add_one(code, severity, (lambda: note(build())) if note else build)

    def _note(self, index: int | None, template: str, params: dict[str, Any], **changes: str) -> None:
        if index is not None and index not in self._noted:
            self._noted.add(index)
            example = self.log.example(index)
            self.log.amend(index, replace(example, message=example.message + format_message(template, params),
                                          **changes))


def _sides(has: Copy, lacks: Copy) -> dict[str, str]:
    other = "other " if lacks.origin == has.origin else SIDES.get(lacks.origin, "")
    return {"side": SIDES.get(has.origin, ""), "where": has.where, "other": other, "other_where": lacks.where}


def _only(copy: Copy, first: Copy) -> str:
    return format_message(ONLY, _sides(copy, first))
