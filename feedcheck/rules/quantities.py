"""Rules on quantities: whole numbers (a multipack, handling days), plain numbers (a value for bidding), and
measures written as a number and a unit (dimensions, weights, unit pricing)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.registry import rule
from feedcheck.rules.series import col, each_distinct

_GOOGLE = "https://support.google.com/merchants/answer/"

declare({
    "item.number_invalid": code(
        "Not a whole number in range",
        "error",
        "'{field}' is '{value}'; it takes a whole number of at least {minimum}{hint}.",
        sources={"google": _GOOGLE + "6324488"},
    ),
    "item.decimal_invalid": code(
        "Not a number",
        "warning",
        "'{field}' is '{value}'; it takes a number of at least 0, with a point for decimals and no currency "
        "(such as 9.99).",
        sources={"google": _GOOGLE + "6069387"},
    ),
    "item.measure_invalid": code(
        "Not a number and a unit",
        "warning",
        "'{field}' is '{value}'; {hint}",
        sources={"google": _GOOGLE + "11018531"},
    ),
    "item.handling_time_order": code(
        "Handling time range reversed",
        "error",
        "min_handling_time {hint} is more than max_handling_time '{value}'; Google takes neither. Swap them.",
        sources={"google": _GOOGLE + "7388496"},
    ),
})

_MEASURE = re.compile(r"\s*(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[A-Za-z]+)\s*")


def _whole(value: str) -> int | None:
    text = value.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


@rule("item.number_invalid", ("minimum", "maximum"),
      hint=lambda v, p: {"hint": f" and at most {p['maximum']:,}" if p.get("maximum") is not None else ""})
def whole_number(series: pd.Series, *, minimum: int, maximum: int | None = None) -> pd.Series:
    top = maximum if maximum is not None else float("inf")
    return each_distinct(series, lambda value: (number := _whole(value)) is not None and minimum <= number <= top)


_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?")


@rule("item.decimal_invalid")
def decimal_number(series: pd.Series) -> pd.Series:
    return each_distinct(series, lambda value: _DECIMAL.fullmatch(value.strip()) is not None)


def _measure_problem(value: str, units: list[str], low: float, high: float, steps: list[int] | None,
                     also: list[str]) -> str:
    """What is wrong with a measure, or ``""``."""
    found = _MEASURE.fullmatch(value)
    if found is not None and f"{found['number']}{found['unit']}".lower() in also:
        return ""
    if found is None:
        return f"write a number, a space and one of the units {', '.join(units)} (such as '12 {units[0]}')."
    number, unit = float(found["number"]), found["unit"].lower()
    if unit not in units:
        return f"'{found['unit']}' is not one of the units it takes: {', '.join(units)}."
    if steps is not None and number not in steps:
        others = f" (or {', '.join(also)})" if also else ""
        return f"Google takes {', '.join(map(str, steps))}{others} as the base measure, not {number:g} {unit}."
    if not low <= number <= high:
        return f"it takes {low:g} to {high:g} {unit}, so the value is ignored."
    return ""


def _measure_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"hint": _measure_problem(value, params["units"], params["low"], params["high"], params["steps"],
                                     params["also"] or [])}


@rule("item.measure_invalid", ("units", "low", "high", "steps", "also"), hint=_measure_hint)
def measure(series: pd.Series, *, units: list[str], low: float, high: float, steps: list[int] | None = None,
            also: list[str] | None = None) -> pd.Series:
    """A number and a unit of ``units``, between ``low`` and ``high`` (or one of ``steps``, or one of the whole
    measures ``also`` such as ``75cl``)."""
    return each_distinct(series, lambda value: not _measure_problem(value, units, low, high, steps, also or []))


@rule("item.handling_time_order", ("field",), frame=True, reads=("min_handling_time",),
      hint=lambda v, p: {"hint": f"'{p['_row']['min_handling_time']}'"})
def handling_time_order(frame: pd.DataFrame, *, field: str) -> pd.Series:
    low = pd.to_numeric(col(frame, "min_handling_time").where(lambda s: s.str.strip().str.isdigit()), errors="coerce")
    high = pd.to_numeric(col(frame, field).where(lambda s: s.str.strip().str.isdigit()), errors="coerce")
    return ~(low > high).fillna(False).astype(bool)
