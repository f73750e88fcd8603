"""Rules that need the whole feed: an id or a GTIN used twice, prices in several currencies.

A chunk alone cannot tell; each rule here sees the chunks in the feed's order (the validator hands each one
over as it folds it) and keeps only what later chunks are compared with: the first row of each id and each
GTIN, a count per currency.  Item findings come back as :class:`~feedcheck.rules.assess.Failure` rows, whose
``_per_row`` parameters say, per row, what it clashes with; feed findings come from ``finish``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from feedcheck.findings import Finding, code, declare, make_finding
from feedcheck.readers.fields import ID
from feedcheck.rules.assess import Failure
from feedcheck.rules.keys import ChunkKeys
from feedcheck.rules.series import extract

declare({
    "item.duplicate_id": code(
        "Duplicate id",
        "error",
        "Id '{value}' is also used on row {first_row:,}; {channel} keeps only one of them. "
        "Give every item its own id.",
    ),
    "item.gtin_reused": code(
        "One GTIN on different products",
        "warning",
        "GTIN '{value}' is also on row {first_row:,}, a different product. {channel} takes a "
        "GTIN as the product's identity, so one of the two is matched to the wrong product: give each product, "
        "and each variant, its own GTIN.",
        sources={"google": "https://support.google.com/merchants/answer/6324461"},
    ),
    "feed.variant_field_uneven": code(
        "Variants fill a variant field unevenly",
        "warning",
        "In {count:,} item group(s) some variants have {field} and others leave it empty (item_group_id "
        "'{group}': row {with_row:,} has it, row {without_row:,} does not). {channel} tells a group's variants "
        "apart by these fields, so every variant of a group must fill each one the group uses.",
        sources={"meta": "https://developers.facebook.com/documentation/ads-commerce/catalog/guides/product-variants"},
    ),
    "feed.mixed_currencies": code(
        "Prices in several currencies",
        "warning",
        "Prices are in {count} currencies: {currencies:counts}. A catalog sells to one country in its currency, "
        "so {channel} disapproves the prices that are not in it. Convert them, or split the feed by country; "
        "run with --currency to see each item whose price differs.",
        sources={"google": "https://support.google.com/merchants/answer/6324371",
                 "tiktok": "https://ads.tiktok.com/help/article/create-manage-catalogs"},
    ),
})


class FirstSeen:
    """The row at which each key was first seen, and a value that came with it, in sorted numpy arrays: 24 bytes
    a key, where a dict of a million keys takes over a hundred each (a 1M-item feed's ids and GTINs were most
    of what its check's memory grew by)."""

    def __init__(self) -> None:
        self._keys = np.empty(0, np.uint64)
        self._rows = np.empty(0, np.int64)
        self._values = np.empty(0, np.uint64)

    def see(self, keys: np.ndarray, rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each key of a chunk, in the chunk's order, the row and value of its first sighting: its own
        when the key is new to the feed and first in the chunk.  The keys new to the feed are remembered."""
        order = np.argsort(keys, kind="stable")  # stable: a key's first place in the chunk comes first
        ordered = keys[order]
        starts = np.ones(len(keys), dtype=bool)
        starts[1:] = ordered[1:] != ordered[:-1]
        firsts, unique = order[starts], ordered[starts]
        at = np.searchsorted(self._keys, unique)
        known = np.zeros(len(unique), dtype=bool)
        inside = at < len(self._keys)
        known[inside] = self._keys[at[inside]] == unique[inside]
        first_rows, first_values = rows[firsts], values[firsts]
        first_rows[known], first_values[known] = self._rows[at[known]], self._values[at[known]]
        new = ~known
        self._keys = np.insert(self._keys, at[new], unique[new])
        self._rows = np.insert(self._rows, at[new], first_rows[new])
        self._values = np.insert(self._values, at[new], first_values[new])
        group = np.empty(len(keys), dtype=np.int64)
        group[order] = np.cumsum(starts) - 1
        return first_rows[group], first_values[group]


class DuplicateIds:
    """Items whose id an earlier item has: the channel keeps only one.

    Ids are kept as two independent 64-bit hashes (:class:`FirstSeen`; :func:`~feedcheck.rules.keys.chunk_keys`
    hashes them); the rare id whose first hash another id already has is kept by its text, so no two ids are
    ever taken for one.
    """

    def __init__(self) -> None:
        self._seen = FirstSeen()
        self._clashing: dict[str, int] = {}

    def failures(self, chunk: pd.DataFrame, keys: ChunkKeys) -> list[Failure]:
        rows = keys.id_rows
        if not len(rows):
            return []
        first_rows, first_checks = self._seen.see(keys.id_key, rows, keys.id_check)
        for at in np.flatnonzero(first_checks != keys.id_check):  # another id has the same first hash
            first_rows[at] = self._clashing.setdefault(chunk.at[rows[at], ID], rows[at])
        later_ones = first_rows != rows
        later = {int(row): {"first_row": int(first)} for row, first in zip(rows[later_ones], first_rows[later_ones])}
        return [Failure("item.duplicate_id", ID, np.array(list(later)), {"_per_row": later})] if later else []


class SharedGtins:
    """Items whose GTIN an earlier item has, where the two differ in title or item group (not the same product
    listed twice).  Per GTIN it keeps the first row and a hash of its product (:class:`FirstSeen`), so a feed of
    millions of GTINs stays small."""

    def __init__(self) -> None:
        self._seen = FirstSeen()

    def failures(self, keys: ChunkKeys) -> list[Failure]:
        rows, product = keys.gtin_rows, keys.product
        if not len(rows):
            return []
        first_rows, first_products = self._seen.see(keys.gtin, rows, product)
        reused = (first_rows != rows) & (first_products != product)
        later = {int(row): {"first_row": int(first)} for row, first in zip(rows[reused], first_rows[reused])}
        return [Failure("item.gtin_reused", "gtin", np.array(list(later)), {"_per_row": later})] if later else []


class Currencies:
    """How many prices are in each currency, for a feed whose catalog currency was not given."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def count(self, chunk: pd.DataFrame) -> None:
        if "price" in chunk.columns:
            codes = extract(chunk["price"], r"(?P<currency>[A-Z]{3})$")["currency"]
            self.seen.update(codes[codes != ""].value_counts().to_dict())

    @property
    def most_common(self) -> str | None:
        """The currency of most prices so far: the one a message's example uses."""
        return self.seen.most_common(1)[0][0] if self.seen else None

    def finish(self, channel: str) -> list[Finding]:
        if len(self.seen) < 2:
            return []
        return [make_finding("feed.mixed_currencies", field="price", count=len(self.seen),
                             currencies=self.seen.most_common(), channel=channel)]


class VariantFields:
    """Item groups whose variants fill a variant field (``color``, ``size``…) on some items and not on others:
    per field, the first row of each group with a value and the first without."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        self._first: dict[str, tuple[dict[str, int], dict[str, int]]] = {f: ({}, {}) for f in fields}

    def count(self, chunk: pd.DataFrame) -> None:
        if "item_group_id" not in chunk.columns:
            return
        grouped = chunk[chunk["item_group_id"] != ""]
        for name in (f for f in self.fields if f in grouped.columns):
            filled = grouped[name] != ""
            for side, rows in zip(self._first[name], (grouped[filled], grouped[~filled])):
                firsts = pd.Series(rows.index, index=rows.index).groupby(rows["item_group_id"]).first()
                for group, row in firsts.items():
                    side.setdefault(group, row)

    def finish(self, channel: str) -> list[Finding]:
        findings = []
        for name, (with_value, without) in self._first.items():
            uneven = [group for group in with_value if group in without]
            if uneven:
                group = uneven[0]
                findings.append(make_finding("feed.variant_field_uneven", field=name, count=len(uneven), group=group,
                                             with_row=with_value[group], without_row=without[group],
                                             channel=channel))
        return findings
