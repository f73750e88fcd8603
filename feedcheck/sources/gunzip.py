"""Gunzip a feed or a log as it is read, all members, capped: a small gzip bomb cannot fill memory or disk."""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO

from feedcheck.errors import FeedFormatError

GZIP_MAGIC = b"\x1f\x8b"
RATIO_FREE_BYTES = 1 << 20  # a small file may be one value repeated: its ratio says nothing


class CappedGzipReader(io.RawIOBase):
    """Decompress gzip (all members) lazily, refusing to produce more than ``cap`` bytes, or, past the first
    MiB, more than ``max_ratio`` times the compressed bytes read so far.

    The ratio stops a bomb long before the cap: a megabyte of gzip that
    expands a thousandfold is a gigabyte of one repeated row, which would
    otherwise be read and validated for as long as it takes.  Feeds and
    event logs compress 5 to 20 times.
    """

    def __init__(self, raw: BinaryIO, cap: int, source: str, max_ratio: int = 0) -> None:
        """``max_ratio`` 0: no ratio limit."""
        self._raw = raw
        self._cap = cap
        self._source = source
        self._max_ratio = max_ratio
        self._taken = 0  # compressed bytes inflated so far
        self._inflater = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._leftover = b""
        self._produced = 0
        self._started = False
        self._members = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        size = len(buffer)
        while not self._pending and not self._eof:
            self._pending = self._inflate(size)
        n = min(size, len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _inflate(self, size: int) -> bytes:
        data = self._inflater.unconsumed_tail or self._leftover or self._raw.read(1 << 16)
        self._leftover = b""
        if not data:
            if self._started:
                raise FeedFormatError.of(
                    "decode.bad_gzip",
                    f"{self._source} ends in the middle of its gzip data (truncated download?).",
                )
            self._eof = True
            return b""
        if not self._started and self._members and not data.startswith(GZIP_MAGIC):
            self._eof = True  # bytes after the last member are ignored, as gzip(1) does
            return b""
        self._started = True
        try:
            out = self._inflater.decompress(data, max(size, 1 << 16))
        except zlib.error as exc:
            raise FeedFormatError.of("decode.bad_gzip", f"{self._source} is not valid gzip ({exc}).") from None
        self._taken += len(data) - len(self._inflater.unconsumed_tail) - len(self._inflater.unused_data)
        if self._inflater.eof:
            self._leftover = self._inflater.unused_data
            self._inflater = zlib.decompressobj(wbits=31)  # the next member, if any
            self._started = False
            self._members += 1
        self._produced += len(out)
        if self._produced > self._cap:
            raise FeedFormatError.of(
                "decode.too_large",
                f"{self._source} decompresses to more than {self._cap:,} bytes; refusing (a gzip bomb, "
                "or raise the cap if the feed is really that large).",
            )
        if self._max_ratio and self._produced > RATIO_FREE_BYTES and self._produced > self._max_ratio * self._taken:
            raise FeedFormatError.of(
                "decode.too_large",
                f"{self._source} expands more than {self._max_ratio:,} times: {self._taken:,} bytes of gzip gave "
                f"{self._produced:,} bytes so far. Feeds compress 5 to 20 times; this is a gzip bomb or one "
                "value repeated, so it was not read. Raise max_gzip_ratio if the file is really meant.",
            )
        return out
