"""What the feed-wide rules compare across chunks, worked out from one chunk alone.

Hashing a chunk's ids and GTINs is most of what :class:`~feedcheck.rules.feedwide.DuplicateIds` and
:class:`~feedcheck.rules.feedwide.SharedGtins` cost, and it needs nothing but the chunk: it is done where the
chunk is assessed (a worker, when the feed is read in parts), so the process that folds the chunks in the feed's
order only looks the keys up.  On a 1M-item CSV, hashing the ids had been a fifth of that process's time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from feedcheck.readers.fields import ID
from feedcheck.rules.series import normalise_token

ID_HASH_KEYS = ("feedcheck-ids-01", "feedcheck-ids-02")  # two independent hashes of an id
_GTIN = r"[0-9]{8,14}"  # what is not a GTIN is item.gtin_format's


@dataclass
class ChunkKeys:
    """Per row with an id: its row and the id's two hashes; per row with a GTIN: its row, the GTIN as a number
    and a hash of the product it names (title and item group)."""

    id_rows: np.ndarray
    id_key: np.ndarray
    id_check: np.ndarray
    gtin_rows: np.ndarray
    gtin: np.ndarray
    product: np.ndarray


def chunk_keys(chunk: pd.DataFrame) -> ChunkKeys:
    """The keys of ``chunk`` (trimmed, as the rules see it)."""
    named = chunk[chunk[ID] != ""] if ID in chunk.columns else chunk.iloc[:0]
    ids = np.asarray(named[ID], dtype=object) if ID in named.columns else np.empty(0, dtype=object)
    id_key, id_check = (pd.util.hash_array(ids, hash_key=k) for k in ID_HASH_KEYS)
    gtin_rows, gtin, product = _gtin_keys(chunk)
    return ChunkKeys(named.index.to_numpy(dtype=np.int64), id_key, id_check, gtin_rows, gtin, product)


def _gtin_keys(chunk: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if "gtin" not in chunk.columns:
        return np.empty(0, np.int64), np.empty(0, np.uint64), np.empty(0, np.uint64)
    digits = chunk[chunk["gtin"].str.fullmatch(_GTIN)]
    none = pd.Series("", index=digits.index)
    product = pd.util.hash_pandas_object(pd.DataFrame({
        "title": normalise_token(digits["title"] if "title" in digits.columns else none),
        "group": digits["item_group_id"] if "item_group_id" in digits.columns else none,
    }), index=False).to_numpy()
    return (digits.index.to_numpy(dtype=np.int64), digits["gtin"].astype("int64").to_numpy().astype(np.uint64),
            product)
