"""The catalog's ids are looked up as a column: every id found where the dict would find it, and only there."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from feedcheck.events.hashjoin import TextIndex, text_hashes

CATALOG = ["SKU-1", "sku-1", "SKU-1 ", "", "Größe-42", "0042", "42", "a" * 300, "SKU-10", "SKU-01"]


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_each_id_is_found_at_its_place_and_nothing_else_is(kind: pa.DataType) -> None:
    index = TextIndex(pa.array(CATALOG, kind))
    queries = ["SKU-1", "SKU-01", None, "", "Größe-42", "GRÖSSE-42", "a" * 300, "a" * 299, "SKU-1 ", "42", "x"]
    assert index.positions(pa.array(queries, kind)).tolist() == [0, 9, -1, 3, 4, -1, 7, -1, 2, 6, -1]


def test_a_slice_of_a_column_is_hashed_as_its_own_values() -> None:
    column = pa.array(["x", "SKU-1", None, "42", "y"])
    assert text_hashes(column.slice(1, 3)).tolist()[::2] == text_hashes(pa.array(["SKU-1", "42"])).tolist()
    assert TextIndex(pa.array(CATALOG)).positions(column.slice(1, 3)).tolist() == [0, -1, 6]


def test_texts_that_share_a_hash_are_told_apart_by_their_text() -> None:
    # A shared 64-bit hash is a chance of one in 2**64 a pair, so the hashes are made by hand: every text hashes
    # to 5 but "d", and a query that meets another text's hash first probes on until it finds its own or a gap.
    index = TextIndex(pa.array(["a", "b", "c", "d"]), hashes=np.array([5, 5, 5, 9], np.uint64))
    queries = pa.array(["c", "b", "a", "d", "e", None])
    assert index.positions(queries, hashes=np.array([5, 5, 5, 9, 5, 5], np.uint64)).tolist() == [2, 1, 0, 3, -1, -1]


def test_an_empty_catalog_finds_nothing() -> None:
    assert TextIndex(pa.array([], pa.string())).positions(pa.array(["SKU-1", None])).tolist() == [-1, -1]
