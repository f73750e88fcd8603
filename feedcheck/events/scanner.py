"""The record-by-record reader: a text stream cut into top-level JSON values, whatever the log's layout.

It takes what the block reader (:mod:`feedcheck.events.read`) cannot: JSON arrays, pretty-printed objects one
after another, UTF-16 logs, lines that are not JSON, records too large to hold.  A value that does not parse is
an :class:`Unreadable` (a finding in waiting), and reading goes on after it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from feedcheck.findings import Finding, make_finding, truncate
from feedcheck.sources.decode import DecodingReader, past_line_break

_READ_CHARS = 1 << 20
_SEPARATORS = re.compile(r"[\s,\[\]\ufeff]*")  # whitespace, array punctuation, stray BOMs between records
_BLANKS = re.compile(r"[ \t]*")
_NEXT_OBJECT = re.compile(r"\}\s*,\s*\{")
_SCALAR_START = frozenset('"-0123456789tfnNI')
_NEAR_END = 64
_LONG_LINE = 1 << 16  # a bad record on a longer line is in a minified array: resume at the next element
_DECODER = json.JSONDecoder()
_AGAIN = object()
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # JSON's spelling of half a UTF-16 surrogate pair


@dataclass(frozen=True, slots=True)
class Unreadable:
    code: str
    text: str
    reason: str

    def finding(self, file: str, line: int) -> Finding:
        """The finding for this unreadable record at ``file:line``."""
        where = f"{file}:{line}"
        return make_finding(self.code, source=where, item_id=where, row=line, value=self.text, detail=self.reason)


class Scanner:
    """Splits a text stream into top-level JSON values, yielding ``(line, value)``; ``Unreadable`` for what does
    not parse.

    Values may be separated by whitespace, newlines, commas and array brackets,
    so JSON lines, a JSON array of events and concatenated pretty-printed
    objects all read the same way.  After a bad value, reading resumes on the
    next line, or, on one long line (a minified array), at the next object
    that follows a comma; a line yields at most one ``Unreadable``.
    """

    def __init__(self, text: TextIO | DecodingReader, max_chars: int, line: int = 1) -> None:
        self.text = text
        self.max_chars = max_chars
        self.buf = ""
        self.pos = 0
        self.line = line
        self.eof = False
        self.depth = 0  # inside how many top-level arrays: only there is a bare scalar an element

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        last_bad = 0
        while True:
            end = _SEPARATORS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if end > self.pos + 1 or (end > self.pos and self.buf[self.pos] in "[]"):
                between = self.buf[self.pos:end]
                self.depth = max(0, self.depth + between.count("[") - between.count("]"))
            self._advance(end)
            if self.pos >= len(self.buf):
                if self.eof:
                    return
                self._refill()
                continue
            line = self.line
            value = self._object() if self.buf[self.pos] == "{" else self._other()
            if value is _AGAIN:
                continue
            if isinstance(value, Unreadable):
                if line == last_bad:
                    continue
                last_bad = line
            yield line, value

    def _object(self) -> Any:
        start = self.pos
        try:
            value, end = _DECODER.raw_decode(self.buf, start)
        except json.JSONDecodeError as exc:
            incomplete = exc.pos >= len(self.buf) - _NEAR_END or exc.msg.startswith("Unterminated string")
            if incomplete and not self.eof and len(self.buf) - start <= self.max_chars:
                self._refill()
                return _AGAIN
            if incomplete and not self.eof:
                bad = self._too_large()
            else:
                bad = Unreadable("events.not_json", self._line_text(),
                           f"{exc.msg} at character {exc.pos - start + 1} of the record")
            self._resync(exc.pos)
            return bad
        except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
            bad = Unreadable("events.not_json", self._line_text(), str(exc)[:120] or type(exc).__name__)
            self._resync(start + 1)
            return bad
        oversized = self._too_large() if end - start > self.max_chars else None
        if _SURROGATE_ESCAPE.search(self.buf, start, end):
            value = without_lone_surrogates(value)
        self._advance(end)
        return oversized or value

    def _other(self) -> Any:
        """A JSON scalar (an array element, or a line holding one), or a line of text."""
        if self.depth and self.buf[self.pos] in _SCALAR_START:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except (ValueError, RecursionError):
                end = -1
            if end >= 0:
                after = _BLANKS.match(self.buf, end).end()  # type: ignore[union-attr]
                if after >= len(self.buf) and not self.eof:
                    self._refill()
                    return _AGAIN
                if after >= len(self.buf) or self.buf[after] in ",]\r\n":
                    self._advance(end)
                    return without_lone_surrogates(value)
        if self.buf.find("\n", self.pos) < 0 and not self.eof and len(self.buf) - self.pos <= self.max_chars:
            self._refill()
            return _AGAIN
        text = self._line_text(limit=None)
        self._skip_line()
        try:
            return without_lone_surrogates(json.loads(text))  # a line holding one JSON value: an unknown shape
        except (ValueError, RecursionError):
            return Unreadable("events.not_json", truncate(text, 120), "the line does not start with '{'")

    def _too_large(self) -> Unreadable:
        return Unreadable("events.too_large", truncate(self.buf[self.pos:self.pos + 80], 80),
                    f"A record at line {self.line:,} is over {self.max_chars:,} characters; it was skipped.")

    def _advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def _refill(self) -> None:
        chunk = self.text.read(_READ_CHARS)
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        self.eof = not chunk

    def _resync(self, failed_at: int) -> None:
        """Skip a bad record: to the next object after a comma on a long line, else past the line."""
        newline = self.buf.find("\n", self.pos)
        if newline < 0 or newline - self.pos > _LONG_LINE:
            stop = newline if newline >= 0 else len(self.buf)
            found = _NEXT_OBJECT.search(self.buf, max(failed_at, self.pos + 1), stop)
            if found:
                self._advance(found.end() - 1)
                return
        self._skip_line()

    def _skip_line(self) -> None:
        while True:
            end = past_line_break(self.buf, self.pos)
            if end >= 0:
                self.pos = end
                self.line += 1
                return
            if self.eof:
                self.pos = len(self.buf)
                return
            chunk = self.text.read(_READ_CHARS)
            self.buf, self.pos, self.eof = chunk, 0, not chunk

    def _line_text(self, limit: int | None = 120) -> str:
        newline = self.buf.find("\n", self.pos)
        text = self.buf[self.pos:newline if newline >= 0 else len(self.buf)].rstrip("\r")
        return text if limit is None else truncate(text, limit)


def without_lone_surrogates(value: Any) -> Any:
    """``value`` with each lone surrogate in its text as U+FFFD, the replacement character.

    JSON can escape half of a UTF-16 surrogate pair (``"\\ud800"``), which no
    text can hold: such an id cannot be in a catalog, and it could not be
    written to a report.
    """
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    return value
