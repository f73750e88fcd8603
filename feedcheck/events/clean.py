"""Which events of a block read as columns need no finding of their own, worked out where the block is parsed.

Each test mirrors, with Arrow and NumPy, a check of the event-by-event path
(:mod:`feedcheck.events.checker`); anything it cannot be sure of counts as
not clean and is checked the slow way, so both paths give the same findings
(``tests/test_event_blocks.py``).  :func:`judge_columns` runs beside the
parse (on the parsing process or Dask worker), so the checking thread only
reads the answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from feedcheck.events.blocks import Columns
from feedcheck.events.names import CONTENT_TYPES, LEGACY_NAMES, PLACEHOLDER_IDS, STANDARD_NAMES, TEMPLATE_ID
from feedcheck.events.shapes import YEAR_3000
from feedcheck.rules.currencies import ISO_4217, TIKTOK_EVENT_CURRENCIES
from feedcheck.rules.series import ASCII_SPACE, WHITESPACE
from feedcheck.settings import EventOptions

_MAX_EXACT = float(2 ** 53)  # larger numbers may be read differently by Arrow and by Python
_ACCEPTED_CURRENCIES = sorted(ISO_4217 & TIKTOK_EVENT_CURRENCIES)
_LEGACY = pa.array(list(LEGACY_NAMES), pa.string())
_RENAMED = pa.array(list(LEGACY_NAMES.values()), pa.string())
# The one text form of a time read here; a date that does not exist (Arrow reads 30 February as 2 March) is caught
# by writing the parsed time back.  Every other form is left to Python's parser, on the event-by-event path.
_ISO_UTC = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$"
_ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def clean_events(cols: Columns, options: EventOptions, name: pa.Array, seconds: np.ndarray, purchase: np.ndarray,
                 catalog: np.ndarray) -> np.ndarray:
    """Which events of ``cols`` :meth:`EventChecker.check` would judge without a finding of their own
    (``name`` and ``seconds``: the events' :func:`current_names` and :func:`event_times`; ``purchase`` and
    ``catalog``: which are purchase and catalog events).

    Each test mirrors a check in the event-by-event path; anything it cannot
    be sure of (non-ASCII ids, numbers past 2**53, times written as text that
    need Python's parser) counts as not clean, and is then checked the slow way.
    """
    ok = _in(name, STANDARD_NAMES) & _event_id_ok(cols.event_id) & _time_ok(seconds)
    value = cols.value
    has_value = pc.is_valid(value).to_numpy(zero_copy_only=False)
    ok &= np.where(has_value, _amount_ok(value), ~(purchase | catalog))
    has_currency = pc.is_valid(cols.currency).to_numpy(zero_copy_only=False)
    ok &= np.where(has_currency, _in(cols.currency, _ACCEPTED_CURRENCIES), ~(purchase | (catalog & has_value)))
    lengths = pc.fill_null(pc.list_value_length(cols.contents), 0).to_numpy()
    no_ids = (pc.fill_null(pc.list_value_length(cols.content_ids), 0).to_numpy() == 0) & ~pc.is_valid(
        cols.content_id).to_numpy(zero_copy_only=False)
    ok &= np.where(lengths > 0, _contents_ok(cols, lengths, has_value, options.value_tolerance), no_ids & ~catalog)
    return ok


def current_names(names: pa.Array) -> pa.Array:
    """Each event name, a legacy one as the name it became."""
    return pc.coalesce(_RENAMED.take(pc.index_in(names, value_set=_LEGACY)), names)


def _in(values: pa.Array, allowed: Iterable[str]) -> np.ndarray:
    return pc.fill_null(pc.is_in(values, value_set=pa.array(sorted(allowed), pa.string())), False).to_numpy(
        zero_copy_only=False)


def _event_id_ok(ids: pa.Array) -> np.ndarray:
    text = pc.fill_null(ids, "")
    lowered = pc.utf8_lower(text)
    ok = (pc.string_is_ascii(text).to_numpy(zero_copy_only=False)
          & pc.equal(pc.utf8_trim(text, characters=ASCII_SPACE), text).to_numpy(zero_copy_only=False)
          & (pc.utf8_length(text).to_numpy() > 0)
          & ~_in(lowered, PLACEHOLDER_IDS)
          & ~pc.match_substring_regex(text, TEMPLATE_ID.pattern).to_numpy(zero_copy_only=False))
    return ok


def _time_ok(seconds: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(seconds) & (seconds > 0) & (seconds < YEAR_3000)


def _amount_ok(values: pa.Array) -> np.ndarray:
    numbers = pc.fill_null(values, math.nan).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        return np.isfinite(numbers) & (numbers >= 0) & (numbers < _MAX_EXACT)


def _contents_ok(cols: Columns, lengths: np.ndarray, has_value: np.ndarray, tolerance: float) -> np.ndarray:
    """Per event: every content line has a usable id, type, quantity and price, and the lines add up to the value."""
    lines = pc.list_flatten(cols.contents)
    parent = pc.list_parent_indices(cols.contents).to_numpy()
    ids = pc.struct_field(lines, "content_id")
    line_type = pc.coalesce(pc.struct_field(lines, "content_type"), cols.content_type.take(pa.array(parent)))
    quantity = pc.struct_field(lines, "quantity")
    price = pc.struct_field(lines, "price")
    count = pc.fill_null(quantity, 1.0).to_numpy(zero_copy_only=False)
    amount = pc.fill_null(price, math.nan).to_numpy(zero_copy_only=False)
    has_price = pc.is_valid(price).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        line_ok = (pc.is_valid(lines).to_numpy(zero_copy_only=False)
                   & pc.fill_null(pc.match_substring_regex(ids, f"[^{WHITESPACE}]"), False).to_numpy(
                       zero_copy_only=False)
                   & np.where(pc.is_valid(line_type).to_numpy(zero_copy_only=False), _in(line_type, CONTENT_TYPES),
                              True)
                   & np.isfinite(count) & (count >= 1) & (count == np.floor(count)) & (count < _MAX_EXACT)
                   & np.where(has_price, _amount_ok(price), True))
    events = len(lengths)
    ok = np.ones(events, dtype=bool)
    np.logical_and.at(ok, parent, line_ok)
    all_priced = np.ones(events, dtype=bool)
    np.logical_and.at(all_priced, parent, has_price)
    total = np.zeros(events)
    value = pc.fill_null(cols.value, 0.0).to_numpy(zero_copy_only=False)
    with np.errstate(over="ignore", invalid="ignore"):  # absurd amounts (1e300 × 1e300) are events not ok anyway
        np.add.at(total, parent, np.where(has_price, amount * count, 0.0))
        allowed = np.maximum(0.01, tolerance * np.maximum(np.abs(total), np.abs(value)))
        gap = np.abs(value - total)
    checked = has_value & all_priced
    # Near the limit, the order of the additions could tip it: leave such events to the exact path.
    ok &= ~checked | (gap < allowed * (1 - 1e-9))
    return ok


def judge_columns(cols: Columns, options: EventOptions) -> Columns:
    """``cols`` with each event's current name and time in seconds, whether it is a purchase or a catalog
    event (by its name or its legacy name), and whether it is clean (:func:`clean_events`)."""
    names, seconds = current_names(cols.name), event_times(cols)
    purchase = _in(names, options.purchase_events) | _in(cols.name, options.purchase_events)
    catalog = purchase | _in(names, options.catalog_events) | _in(cols.name, options.catalog_events)
    clean = clean_events(cols, options, names, seconds, purchase, catalog) if len(cols) else np.zeros(0, dtype=bool)
    return replace(cols, current=names, seconds=seconds, purchase=purchase, catalog_event=catalog, clean=clean)


def event_times(cols: Columns) -> np.ndarray:
    """Each event's time in unix seconds (see :func:`_seconds`)."""
    if not len(cols):
        return np.zeros(0)
    return np.where(cols.shape_code != 0, _seconds(cols.timestamp), _seconds(cols.event_time))


def _seconds(raw: pa.Array) -> np.ndarray:
    """Unix seconds of each time as :func:`feedcheck.events.shapes.parse_time` reads it: numbers, and text in the
    form ``2026-11-24T09:04:58Z``; NaN for a time not read here."""
    if pa.types.is_floating(raw.type):
        seconds = pc.fill_null(raw, math.nan).to_numpy(zero_copy_only=False).astype(float)
        return np.where(seconds > 1e11, seconds / 1000, seconds)
    if not pa.types.is_string(raw.type):
        return np.full(len(raw), math.nan)
    text = pc.if_else(pc.fill_null(pc.match_substring_regex(raw, _ISO_UTC), False), raw, pa.scalar(None, pa.string()))
    parsed = pc.strptime(text, format=_ISO_FORMAT, unit="s", error_is_null=True)
    parsed = pc.if_else(pc.equal(pc.strftime(parsed, format=_ISO_FORMAT), text), parsed,
                        pa.scalar(None, parsed.type))
    return pc.fill_null(pc.cast(pc.cast(parsed, pa.int64()), pa.float64()), math.nan).to_numpy(zero_copy_only=False)
