"""Rules that need the whole feed: an id or a GTIN used twice, prices in several currencies.

A chunk alone cannot tell; each rule here sees the chunks in the feed's order (the validator hands each one
over as it folds it) and keeps only what later chunks are compared with: the first row of each id and each
GTIN, a count per currency.  Item findings come back as :class:`~feedcheck.rules.assess.Failure` rows, whose
``_per_row`` parameters say, per row, what it clashes with; feed findings come from ``finish``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from feedcheck.findings import Finding, code, declare, make_finding
from feedcheck.readers.fields import ID
from feedcheck.rules.assess import Failure
from feedcheck.rules.series import extract, normalise_token

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


class DuplicateIds:
    """Items whose id an earlier item has: the channel keeps only one."""

    def __init__(self) -> None:
        self._first_row: dict[str, int] = {}

    def failures(self, chunk: pd.DataFrame) -> list[Failure]:
        later: dict[Any, dict[str, Any]] = {}
        for item_id, row in zip(chunk[ID].tolist(), chunk.index.tolist()):
            if item_id:
                first = self._first_row.setdefault(item_id, row)
                if first != row:
                    later[row] = {"first_row": first}
        return [Failure("item.duplicate_id", ID, np.array(list(later)), {"_per_row": later})] if later else []


class SharedGtins:
    """Items whose GTIN an earlier item has, where the two differ in title or item group (not the same product
    listed twice).  Per GTIN it keeps one number, the first row and a hash of its product, so a feed of
    millions of GTINs stays small."""

    def __init__(self) -> None:
        self._first: dict[int, int] = {}  # GTIN as a number -> first row << 32 | hash of its title and group

    def failures(self, chunk: pd.DataFrame) -> list[Failure]:
        if "gtin" not in chunk.columns:
            return []
        gtins = chunk["gtin"]
        digits = chunk[gtins.str.fullmatch(r"[0-9]{8,14}")]  # what is not a GTIN is item.gtin_format's
        if digits.empty:
            return []
        none = pd.Series("", index=digits.index)
        product = pd.util.hash_pandas_object(pd.DataFrame({
            "title": normalise_token(digits["title"] if "title" in digits.columns else none),
            "group": digits["item_group_id"] if "item_group_id" in digits.columns else none,
        }), index=False).to_numpy() & 0xFFFFFFFF
        later: dict[Any, dict[str, Any]] = {}
        for row, gtin, this in zip(digits.index.tolist(), digits["gtin"].astype("int64").tolist(), product.tolist()):
            first = self._first.setdefault(gtin, row << 32 | this)
            if first & 0xFFFFFFFF != this:
                later[row] = {"first_row": first >> 32}
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
