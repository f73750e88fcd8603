"""An exact hash join of a text column against a fixed set of distinct texts, by NumPy over Arrow's buffers.

Looking up a million content ids one by one costs a Python string and a dict
probe each; the catalog's ids are fixed while a log is matched, so they are
hashed once and each batch of events is looked up as a column: a 64-bit hash
of every id's UTF-8 bytes, a probe of an open-addressing table of the
catalog's hashes, and Arrow comparing the texts of the candidates.  The hash only proposes; the
texts decide, so two ids sharing a hash can cost time but never a wrong match.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so its powers never vanish modulo 2**64
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))  # SplitMix64's finaliser


def text_hashes(texts: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each text's UTF-8 bytes (a polynomial in ``_MULTIPLIER``, then mixed); any for a null."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    n = len(texts)
    width = np.int64 if pa.types.is_large_string(texts.type) else np.int32
    _, offset_buffer, data_buffer = texts.buffers()
    if offset_buffer is None:
        return np.zeros(n, dtype=np.uint64)
    offsets = np.frombuffer(offset_buffer, dtype=width, count=n + 1,
                            offset=texts.offset * np.dtype(width).itemsize).astype(np.int64)
    lengths = np.diff(offsets)
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]] if data_buffer is not None \
        else np.zeros(0, dtype=np.uint8)
    ends = offsets[1:] - offsets[0]
    from_end = np.repeat(ends, lengths) - np.arange(len(data)) - 1  # each byte's place, counted from its text's end
    terms = (data.astype(np.uint64) + np.uint64(1)) * _powers(int(lengths.max(initial=0)))[from_end]
    sums = np.zeros(n, dtype=np.uint64)
    filled = lengths > 0
    if filled.any():
        sums[filled] = np.add.reduceat(terms, (ends - lengths)[filled])
    hashes = sums + lengths.astype(np.uint64) * _MIX[0]
    hashes ^= hashes >> np.uint64(30)
    hashes *= _MIX[0]
    hashes ^= hashes >> np.uint64(27)
    hashes *= _MIX[1]
    hashes ^= hashes >> np.uint64(31)
    return hashes


def _powers(longest: int) -> np.ndarray:
    return _powers_upto(1 << max(6, longest).bit_length())  # rounded up, so a few sizes serve every batch


@functools.lru_cache(maxsize=8)
def _powers_upto(size: int) -> np.ndarray:
    powers = np.full(size, _MULTIPLIER, dtype=np.uint64)
    powers[0] = 1
    return np.cumprod(powers, dtype=np.uint64)  # wraps modulo 2**64, as a hash wants


class TextIndex:
    """Distinct texts, and where any column of texts stands among them: an open-addressing hash table.

    ``hashes`` are the texts' :func:`text_hashes` (tests give their own, to
    make two texts share one).  A query whose hash meets a text's is compared
    with it, and probing goes on past a text that only shares its hash.
    """

    def __init__(self, texts: pa.Array, hashes: np.ndarray | None = None) -> None:
        self.texts = texts
        self._hashes = text_hashes(texts) if hashes is None else hashes
        self._mask = np.uint64((1 << max(4, (2 * len(texts)).bit_length())) - 1)  # at most half full
        self._slots = np.full(int(self._mask) + 1, -1, dtype=np.int64)
        waiting, at = np.arange(len(texts)), self._home(self._hashes)
        while len(waiting):
            free = np.flatnonzero(self._slots[at] == -1)
            slots, first = np.unique(at[free], return_index=True)  # of two texts after one slot, the first gets it
            self._slots[slots] = waiting[free[first]]
            placed = np.zeros(len(waiting), dtype=bool)
            placed[free[first]] = True
            waiting, at = waiting[~placed], self._next(at[~placed])

    def positions(self, queries: pa.Array, hashes: np.ndarray | None = None) -> np.ndarray:
        """Each query's position among the texts; -1 for a text not among them, and for a null."""
        found = np.full(len(queries), -1, dtype=np.int64)
        hashes = text_hashes(queries) if hashes is None else hashes
        waiting = np.flatnonzero(queries.is_valid().to_numpy(zero_copy_only=False))
        at = self._home(hashes[waiting])
        while len(waiting):
            slot = self._slots[at]
            filled = slot >= 0  # an empty slot ends the search: the text is not there
            waiting, at, slot = waiting[filled], at[filled], slot[filled]
            proposed = np.flatnonzero(self._hashes[slot] == hashes[waiting])
            same = pc.equal(queries.take(waiting[proposed]), self.texts.take(slot[proposed])).to_numpy(
                zero_copy_only=False)
            found[waiting[proposed[same]]] = slot[proposed[same]]
            going = np.ones(len(waiting), dtype=bool)
            going[proposed[same]] = False
            waiting, at = waiting[going], self._next(at[going])
        return found

    def _home(self, hashes: np.ndarray) -> np.ndarray:
        return (hashes & self._mask).astype(np.int64)

    def _next(self, at: np.ndarray) -> np.ndarray:
        return (at + 1) & np.int64(self._mask)
