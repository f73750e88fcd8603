"""One record type for everything feedcheck finds, feed or event log.

A finding is data, not an exception: the user's feed is allowed to be broken,
and the report is how they learn what to fix.  Every finding has a stable
``code`` (documented in ``docs/codes.md`` and in :data:`CODES`), a severity, the
item and field it concerns, the offending value (truncated) and a message that
says what to do.

Feeds can have millions of findings, so :class:`FindingLog` keeps exact counts
for every code but stores at most ``max_per_code`` examples of each.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from feedcheck.reports.messages import format_message

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
VALUE_MAX_CHARS = 200
TITLE_MAX_CHARS = 80
FINDING_COLUMNS = ("code", "severity", "item_id", "row", "field", "value", "message", "source", "title")


class Severity(str, enum.Enum):
    """How much a finding matters to the channel."""

    ERROR = "error"  # the channel rejects the item (or the whole feed, if fatal)
    WARNING = "warning"  # the item is kept but should be fixed
    INFO = "info"  # worth knowing; nothing to fix


class Sliceable(Protocol[T_co]):
    """Rows, an index or an array: anything with a length that slices (lists, pandas indexes, numpy arrays)."""

    def __len__(self) -> int: ...

    def __getitem__(self, part: slice, /) -> Iterable[T_co]: ...


@dataclass(frozen=True, slots=True)
class Code:
    """A registered finding code: its severity by default and per channel, its message template, and the
    channel's own words it follows.

    Templates are ``str.format`` strings over ``field``, ``value``, ``item_id``
    and the parameters of the rule that raised the finding (``limit``, …), plus
    ``hint``, which a rule may compute from the value (a "did you mean");
    :mod:`feedcheck.reports.messages` says how numbers and money are shown.
    """

    title: str
    severity: Severity
    template: str
    fatal: bool = False
    on: Mapping[str, Severity] = field(default_factory=dict)  # channel name -> its severity, where not the default
    sources: Mapping[str, str] = field(default_factory=dict)  # channel name -> help page or spec section

    def severity_on(self, channel: str) -> Severity:
        """How much the finding matters on ``channel``."""
        return self.on.get(channel, self.severity)


def code(title: str, severity: str, template: str, fatal: bool = False, *, on: Mapping[str, str] | None = None,
         sources: Mapping[str, str] | None = None) -> Code:
    """A code's declaration: its title, default severity, message template, whether it is fatal, the channels
    where it matters more or less than by default (``on={"meta": "warning"}``), and per channel the help page
    or specification section the rule follows (``sources={"google": "https://support.google.com/…"}``)."""
    return Code(title, Severity(severity), template, fatal, {name: Severity(s) for name, s in (on or {}).items()},
                dict(sources or {}))


# Every finding code, declared by the part of feedcheck that raises it (``feedcheck/*/codes.py``, the exceptions
# in :mod:`feedcheck.errors`), beside the rules and readers that raise them; each is here once its module is loaded,
# and ``feedcheck.CODES`` loads them all.
CODES: dict[str, Code] = {}


def declare(codes: dict[str, Code]) -> None:
    """Register codes; a code is declared once.

    Raises:
        ValueError: a code already declared (two parts of feedcheck cannot share one meaning).
    """
    twice = sorted(set(codes) & set(CODES))
    if twice:
        raise ValueError(f"finding codes declared twice: {', '.join(twice)}")
    CODES.update(codes)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing feedcheck found: a fatal source problem, a feed-level or an item-level one."""

    code: str
    severity: Severity
    message: str
    item_id: str = ""
    row: int | None = None
    field: str = ""
    value: str = ""
    source: str = ""
    title: str = ""  # the item's title, so a person finds the item without looking its id up

    @property
    def fatal(self) -> bool:
        """True when the finding means the source could not be used at all."""
        return CODES[self.code].fatal if self.code in CODES else False

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FINDING_COLUMNS} | {
            "severity": self.severity.value
        }


def truncate(value: str, limit: int = VALUE_MAX_CHARS) -> str:
    """Shorten a value for display, marking the cut.

    >>> truncate("abcdef", 4)
    'abc…'
    """
    return value if len(value) <= limit else value[: limit - 1] + "…"


def render(code: str, params: Mapping[str, Any]) -> str:
    """Render a code's message (:mod:`feedcheck.reports.messages`); unknown keys in a template render as ``?``."""
    return format_message(CODES[code].template, params)


def make_finding(
    code: str,
    *,
    severity: Severity | None = None,
    item_id: str = "",
    row: int | None = None,
    field: str = "",
    value: str = "",
    source: str = "",
    item_title: str = "",
    **params: Any,
) -> Finding:
    """Build a finding for ``code`` with its message rendered from ``params``.

    ``source`` locates it in an input that is not the feed itself, such as an
    event log's ``file:line``; ``item_title`` is the item's title.
    """
    message = render(code, {"field": field, "value": value, "item_id": item_id, "row": row} | params)
    return Finding(
        code=code,
        severity=severity or CODES[code].severity,
        message=message,
        item_id=item_id,
        row=row,
        field=field,
        value=truncate(value),
        source=source,
        title=truncate(item_title, TITLE_MAX_CHARS),
    )


@dataclass
class FindingLog:
    """Collects findings: exact counts for every code, at most ``max_per_code`` stored."""

    max_per_code: int = 1000
    counts: Counter[str] = field(default_factory=Counter)
    severity_of: dict[str, Severity] = field(default_factory=dict)
    _stored: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> int | None:
        """Count ``finding`` and store it while its code has room; where it is stored (see :meth:`amend`)."""
        self.counts[finding.code] += 1
        self.severity_of.setdefault(finding.code, finding.severity)
        if self.counts[finding.code] > self.max_per_code:
            return None
        self._stored.append(finding)
        return len(self._stored) - 1

    def example(self, index: int) -> Finding:
        """The finding stored at ``index``."""
        return self._stored[index]

    def amend(self, index: int, finding: Finding) -> None:
        """Replace the finding stored at ``index`` with what was learnt later (an event's other copy)."""
        self._stored[index] = finding

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.add(finding)

    def copy(self) -> FindingLog:
        """A log with the same findings, to which more can be added without touching this one."""
        return FindingLog(self.max_per_code, Counter(self.counts), dict(self.severity_of), list(self._stored))

    def room(self, code: str) -> int:
        """How many more findings of ``code`` will be stored."""
        return max(0, self.max_per_code - self.counts[code])

    def add_each(self, code: str, severity: Severity, keys: Sliceable[T], build: Callable[[T], Finding]) -> None:
        """One finding of ``code`` per key: the first that fit are built and stored, the rest only counted.

        Building a finding renders its message; a feed or log with millions of
        them must not pay for messages nobody will see.
        """
        room = self.room(code)
        for key in keys[:room]:
            self.add(build(key))
        if len(keys) > room:
            self.count_only(code, severity, len(keys) - room)

    def add_one(self, code: str, severity: Severity, build: Callable[[], Finding]) -> int | None:
        """:meth:`add_each` for one finding, returning where it is stored (``None`` when only counted)."""
        if not self.room(code):
            self.count_only(code, severity, 1)
            return None
        return self.add(build())

    def count_only(self, code: str, severity: Severity, n: int) -> None:
        """Count ``n`` findings of ``code`` that are not stored (beyond the cap)."""
        self.counts[code] += n
        self.severity_of.setdefault(code, severity)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self._stored)

    def __len__(self) -> int:
        return len(self._stored)

    @property
    def fatal(self) -> Finding | None:
        """The first fatal finding, if the source could not be used."""
        return next((f for f in self._stored if f.fatal), None)

    def by_severity(self) -> dict[str, int]:
        totals = {s.value: 0 for s in Severity}
        for code, n in self.counts.items():
            totals[self.severity_of[code].value] += n
        return totals

    def summary(self) -> dict[str, Any]:
        """The ``findings`` section of ``report.json``: totals by severity and by code."""
        return {
            "by_severity": self.by_severity(),
            "by_code": {
                code: {"count": n, "severity": self.severity_of[code].value}
                for code, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
            },
            "stored": len(self),
            "max_per_code": self.max_per_code,
        }


class HeldFindings(FindingLog):
    """A log that holds what it is given and passes it on to ``target`` later, in the same order.

    A reader that runs ahead of validation (chunks validated side by side)
    makes its findings early; held, and released where one process would
    have made them, they leave the target exactly as one process would.
    Everything a :class:`FindingLog` records goes through :meth:`add` and
    :meth:`count_only`, so holding those two holds it all.
    """

    def __init__(self, target: FindingLog) -> None:
        super().__init__(max_per_code=target.max_per_code)
        self.target = target
        self._held: deque[Finding | tuple[str, Severity, int]] = deque()
        self._released = 0

    def add(self, finding: Finding) -> int | None:
        self._held.append(finding)
        return None

    def count_only(self, code: str, severity: Severity, n: int) -> None:
        self._held.append((code, severity, n))

    def pass_to(self, target: FindingLog) -> None:
        """Pass everything held on to ``target`` (a log in another process than the one that held it)."""
        self.target = target
        self.release()

    def drop(self) -> None:
        """Forget what is held and not yet passed on."""
        self._released += len(self._held)
        self._held.clear()

    def codes(self) -> Counter[str]:
        """How many of each code are held."""
        return Counter(held.code if isinstance(held, Finding) else held[0] for held in self._held)

    def mark(self) -> int:
        """A point in what has been held so far, for :meth:`release`."""
        return self._released + len(self._held)

    def release(self, upto: int | None = None) -> None:
        """Pass on what was held before ``upto`` (a :meth:`mark`), or everything held."""
        end = self.mark() if upto is None else upto
        while self._released < end:
            held = self._held.popleft()
            self._released += 1
            if isinstance(held, Finding):
                self.target.add(held)
            else:
                self.target.count_only(*held)
