"""The catalog as matching sees it: which ids are valid, excluded, group ids or out of stock, in which
currency, and why an id that is not there misses (a group id, case or spaces, a platform's id format).

:func:`feedcheck.check_feed` fills one from the feed's chunks and verdicts; :mod:`feedcheck.events.reconcile`
asks it about every content_id the events send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from feedcheck.errors import ConfigError
from feedcheck.events.hashjoin import TextIndex
from feedcheck.rules.series import ASCII_SPACE

OUT_OF_STOCK = frozenset({"out of stock", "out_of_stock", "discontinued", "sold out"})
VALID, STOCKOUT = 1, 2  # an item's flags: it passed validation; it is out of stock
_PRICE_CURRENCY = re.compile(r"([A-Za-z]{3})\s*$")
_SEPARATORS = re.compile(r"[\s\-_.:/]+")
# The same for ASCII text in Arrow's RE2, whose \s lacks the \x0b and \x1c-\x1f that Python's has.
_ASCII_SEPARATORS = r"[\t\n\x0b\x0c\r\x1c-\x1f \-_.:/]+"
ID_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^gid://shopify/\w+/(\d+)$", "the Shopify gid:// prefix"),
    (r"^shopify_[a-z]{2}_\d+_(\d+)$", "the Shopify shopify_CC_product_ prefix"),
    (r"^wc_post_id_(.+)$", "the WooCommerce wc_post_id_ prefix"),
    (r"^(.+)_\1$", "a repeated id (x_x)"),
)
_BUILTIN = tuple((re.compile(pattern), label) for pattern, label in ID_PATTERNS)
_MAX_PATTERN_ID = 256  # longer ids are not tried against id formats (a repeated-id pattern is quadratic)
MATCHED = ""


class Catalog:
    """What the catalog holds, for matching: valid ids, excluded ids, group ids, stock and currency.

    Built from a feed's chunks and their validation verdicts by
    :func:`feedcheck.check_feed` (pass ``catalog=Catalog()``), so a content_id
    can be told apart as "not in the feed" or "in the feed, but rejected".
    """

    def __init__(self, source: str = "") -> None:
        self.source = source
        self.currency: str | None = None  # shown in reports; the channel's catalog currency when known
        self.items_total = 0
        self._anchor: str | None = None  # the first price's currency; items in another are kept apart
        self._items: dict[str, int] = {}
        self._groups: dict[str, bool] = {}
        self._availability: dict[str, str] = {}
        self._currency_of: dict[str, str] = {}
        self._folded: dict[str, str] | None = None
        self._cores: dict[str, tuple[str, str]] | None = None
        self._flag_table: tuple[TextIndex, np.ndarray] | None = None
        self._patterns: tuple[tuple[re.Pattern[str], str], ...] = ()

    def add(self, chunk: pd.DataFrame, errors: np.ndarray) -> None:
        """Record a chunk's items as validated (``ChunkVerdict.items``: trimmed, prices in canonical form);
        ``errors`` marks the items the channel rejects."""
        if "id" not in chunk.columns:
            return
        self.items_total += len(chunk)
        n = len(chunk)
        ids = chunk["id"].tolist()
        groups = chunk["item_group_id"].tolist() if "item_group_id" in chunk else [""] * n
        stock = chunk["availability"].str.lower().tolist() if "availability" in chunk else [""] * n
        prices = chunk["price"].tolist() if "price" in chunk else [""] * n
        for item_id, group, availability, price, rejected in zip(ids, groups, stock, prices, errors.tolist()):
            if not item_id:
                continue
            flags = 0 if rejected else VALID
            if availability in OUT_OF_STOCK:
                flags |= STOCKOUT
                self._availability[item_id] = availability
            self._items[item_id] = self._items.get(item_id, 0) | flags
            if group:
                self._groups[group] = self._groups.get(group, False) or not rejected
            found = _PRICE_CURRENCY.search(price or "")
            if found:
                code = found.group(1).upper()
                if self._anchor is None:
                    self._anchor = code
                    self.currency = self.currency or code
                if code != self._anchor:
                    self._currency_of[item_id] = code
        self._folded = self._cores = self._flag_table = None

    def flags(self, ids: pa.Array) -> np.ndarray:
        """Each id's flags (valid, out of stock) as an array, 0 for ids not in the catalog (or null)."""
        if self._flag_table is None:
            self._flag_table = (TextIndex(pa.array(list(self._items), pa.string())),
                                np.fromiter(self._items.values(), dtype=np.int64, count=len(self._items)))
        index, flags = self._flag_table
        positions = index.positions(ids)
        return np.where(positions >= 0, flags[positions], 0) if len(flags) else np.zeros(len(ids), dtype=np.int64)

    @property
    def valid_items(self) -> int:
        return sum(1 for flags in self._items.values() if flags & VALID)

    def currencies(self, item_ids: pa.Array) -> list[str | None]:
        """The currency of each item's price (the catalog's, unless the item's differs)."""
        if not self._currency_of:
            return [self._anchor] * len(item_ids)
        return [self._currency_of.get(item_id, self._anchor) for item_id in item_ids.to_pylist()]

    def classify(self, content_id: str, as_group: bool) -> tuple[str, str, str]:
        """``(code, hint, detail)``: ``code`` is empty for a match, else the ``match.*`` reason.

        ``hint`` is the catalog id to use (or the availability of a matched,
        out-of-stock item); ``detail`` says what had to be removed to match.
        """
        flags = self._items.get(content_id)
        valid_item = flags is not None and bool(flags & VALID)
        if as_group:
            if self._groups.get(content_id):
                return MATCHED, "", ""
            if valid_item:
                return "match.item_id_as_group", "", ""
        else:
            if valid_item:
                if flags & STOCKOUT:  # type: ignore[operator]
                    return "match.out_of_stock", self._availability.get(content_id, "out of stock"), ""
                return MATCHED, "", ""
            if self._groups.get(content_id):
                return "match.group_id", "", ""
        if flags is not None or content_id in self._groups:
            return "match.excluded", "", ""
        folded = self._fold_index().get(content_id.strip().casefold())
        if folded is not None:
            return "match.case_or_whitespace", folded, ""
        bare, label = self._strip_format(content_id.strip().casefold())
        if label:
            found_bare = self._fold_index().get(bare)
            if found_bare is not None:
                return "match.id_format", found_bare, label
        core, steps = self._core_of(bare, label)
        found = self._core_index().get(core)
        if found is not None:
            removed = " and ".join(dict.fromkeys(steps + found[1].split(" and ") if found[1] else steps))
            return "match.id_format", found[0], removed or "differences in format"
        return "match.not_in_catalog", "", ""

    def use_patterns(self, patterns: Iterable[str]) -> None:
        """Extra id formats (regular expressions whose first group is the id's core) to try."""
        try:
            self._patterns = tuple((re.compile(p, re.IGNORECASE), f"the pattern {p}") for p in patterns)
        except re.error as exc:
            raise ConfigError(f"Id pattern '{exc.pattern!s}' is not a valid regular expression ({exc.msg}).") from None
        self._cores = None

    def _fold_index(self) -> dict[str, str]:
        if self._folded is None:
            self._folded = {}
            for name in self._matchable():
                self._folded.setdefault(name.strip().casefold(), name)
        return self._folded

    def _core_index(self) -> dict[str, tuple[str, str]]:
        """The core (:meth:`_core`) of each of the catalog's ids, with the first id that has it and what was
        removed from that id."""
        if self._cores is None:
            names = list(self._matchable())
            cores, removed, left = _plain_cores(pa.array(names, pa.string()))
            for k in range(len(names)) if self._patterns else left.tolist():
                core, steps = self._core(names[k])
                cores[k], removed[k] = core, " and ".join(steps)
            # Reversed, so that of the ids with one core the first is written last and kept.
            self._cores = dict(zip(reversed(cores), zip(reversed(names), reversed(removed))))
        return self._cores

    def _matchable(self) -> Iterable[str]:
        yield from (name for name, flags in self._items.items() if flags & VALID)
        yield from (name for name, valid in self._groups.items() if valid)

    def _strip_format(self, text: str) -> tuple[str, str]:
        """The id inside a known id format (a platform prefix, a repeated id), and the format's name."""
        if len(text) > _MAX_PATTERN_ID:
            return text, ""
        # Every built-in format has an underscore or is a gid:// URL: most ids need no regular expression.
        builtin = _BUILTIN if "_" in text or text.startswith("gid://") else ()
        for pattern, label in self._patterns + builtin:
            match = pattern.match(text)
            if match and match.group(1):
                return match.group(1), label
        return text, ""

    def _core(self, name: str) -> tuple[str, list[str]]:
        """The id with known prefixes, separators, case and leading zeros removed, and what was removed."""
        return self._core_of(*self._strip_format(name.strip().casefold()))

    @staticmethod
    def _core_of(text: str, label: str) -> tuple[str, list[str]]:
        """:meth:`_core` of an id already folded and stripped of its format (named ``label``)."""
        steps = [label] if label else []
        joined = _SEPARATORS.sub("", text)
        if joined != text:
            steps.append("separators")
            text = joined
        unpadded = text.lstrip("0")
        if unpadded != text and unpadded:
            steps.append("leading zeros")
            text = unpadded
        return text, steps


def _plain_cores(names: pa.Array) -> tuple[list[str | None], list[str], np.ndarray]:
    """:meth:`Catalog._core` of each ASCII id that no built-in id format can apply to, by Arrow: the cores,
    what was removed from each, and the ids left to Python (non-ASCII, or with the underscore or the ``gid://``
    prefix that every built-in format has)."""
    text = pc.utf8_lower(pc.utf8_trim(names, characters=ASCII_SPACE))
    left = pc.or_(pc.invert(pc.string_is_ascii(names)),
                  pc.or_(pc.match_substring(text, "_"), pc.starts_with(text, "gid://")))
    joined = pc.replace_substring_regex(text, _ASCII_SEPARATORS, "")
    unpadded = pc.utf8_ltrim(joined, characters="0")
    zeros = pc.and_(pc.not_equal(unpadded, joined), pc.greater(pc.utf8_length(unpadded), 0))
    separators = pc.not_equal(joined, text)
    removed = pc.if_else(separators, pc.if_else(zeros, "separators and leading zeros", "separators"),
                         pc.if_else(zeros, "leading zeros", ""))
    return (pc.if_else(zeros, unpadded, joined).to_pylist(), removed.to_pylist(),
            np.flatnonzero(left.to_numpy(zero_copy_only=False)))
