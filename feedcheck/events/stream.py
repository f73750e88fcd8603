"""A log file's bytes: gunzipped when gzip, its text encoding, and cut into blocks of whole lines for Arrow.

What the block reader has read but Arrow cannot take goes back, with everything after it, to the
record-by-record reader (:class:`BlockReader` ``remainder``), so no byte is read twice or lost.
"""

from __future__ import annotations

import codecs
import io
import zlib
from typing import BinaryIO

from feedcheck.errors import FeedcheckError
from feedcheck.settings import EventOptions
from feedcheck.sources.gunzip import GZIP_MAGIC, CappedGzipReader

_READ_BYTES = 1 << 20


class BlockReader:
    """Cuts a byte stream into blocks of whole lines; what it has read but not used goes back to the record reader.

    Reads are small and direct, never through a buffer that would lose the
    bytes read before a truncated gzip member's error: those bytes are read
    record by record, then the error is reported as the record reader does.
    """

    def __init__(self, stream: BinaryIO, max_line: int, block_bytes: int) -> None:
        self.stream = stream
        self.max_line = max_line
        self.block_bytes = block_bytes
        self.offset = 0  # bytes consumed as blocks
        self.line = 1  # line number of the next unconsumed byte
        self.refused = True  # until a block reader takes over: no blocks means read record by record
        self._carry = b""
        self._head = b""
        self._error: FeedcheckError | None = None
        self._eof = False

    def next(self) -> bytes | None:
        """The next block (whole lines, at least ``block_bytes`` unless the file ends); ``None`` at the end."""
        self.refused = False
        parts, size = [self._carry], len(self._carry)
        self._carry = b""
        while (size < self.block_bytes or b"\n" not in parts[-1]) and not self._eof and self._error is None:
            if size > self.block_bytes + self.max_line:
                break  # a line longer than any record may be: the record reader says so
            piece = self._read()
            parts.append(piece)
            size += len(piece)
        data = b"".join(parts)
        last = data.rfind(b"\n")
        if self._error is not None or (last < 0 and not self._eof):
            self.refuse(data)
            return None
        cut = len(data) if self._eof else last + 1
        data, self._carry = data[:cut], data[cut:]
        return data or None

    def consumed(self, data: bytes) -> None:
        self.offset += len(data)
        self.line += data.count(b"\n")

    def refuse(self, data: bytes) -> None:
        """Hand ``data`` and everything after it to the record reader."""
        self.refused = True
        self._head = data + self._carry
        self._carry = b""

    def give_back(self, data: bytes, line: int, offset: int) -> None:
        """Hand blocks read ahead, starting at ``line`` and ``offset``, and everything after them to the
        record reader; anything already handed back comes after them."""
        self._head = data + (self._head if self.refused else b"") + self._carry
        self._carry = b""
        self.refused = True
        self.line, self.offset = line, offset

    def remainder(self) -> BinaryIO:
        """The bytes not consumed as blocks, then the rest of the stream (and its read error, if one came)."""
        return _Chain(self._head, self.stream, self._error)  # type: ignore[return-value]

    def _read(self) -> bytes:
        try:
            piece = self.stream.read(min(_READ_BYTES, self.block_bytes))
        except FeedcheckError as exc:
            self._error = exc
            return b""
        self._eof = not piece
        return piece


class _Chain(io.RawIOBase):
    """``head``, then ``rest``; ``error`` is raised where ``rest`` ended with it."""

    def __init__(self, head: bytes, rest: BinaryIO, error: FeedcheckError | None) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self._error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        if self._error is not None:
            raise self._error
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def byte_stream(raw: BinaryIO, options: EventOptions, shown: str) -> BinaryIO:
    """The file's bytes, gunzipped (capped) when they are gzip; ``raw`` must be at its start."""
    compressed = raw.read(2) == GZIP_MAGIC
    raw.seek(0)
    if compressed:
        return CappedGzipReader(raw, options.max_decompressed_bytes, shown, options.max_gzip_ratio)  # type: ignore[return-value]
    return raw


def text_encoding(raw: BinaryIO) -> str:
    """UTF-16 when the (decompressed) text starts with its BOM, as PowerShell writes files; else UTF-8."""
    head = raw.read(4096)
    raw.seek(0)
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 2)
        except zlib.error:
            head = b""  # reported when the file is read
    return "utf-16" if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"
