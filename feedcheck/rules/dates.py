"""Rules on dates: ISO 8601 dates and intervals, and sale windows that have ended (judged at the run's ``now``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.registry import rule
from feedcheck.rules.series import extract, where_present

declare({
    "item.date_invalid": code(
        "Date not in ISO 8601 form",
        "error",
        "'{value}' is not a valid {field}: {problem}. Write it as {hint}.",
    ),
    "item.sale_expired": code(
        "Sale period over",
        "warning",
        "The sale period in {field} '{value}' ended {hint}; the sale price no longer applies. Update "
        "or remove it.",
    ),
})


# ISO 8601 date or date-time; TikTok's template writes "2017-12-01 T0:00", accepted too.
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:(?: ?T| )[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
DATE_FORM = "YYYY-MM-DD or YYYY-MM-DDThh:mm±hhmm"
INTERVAL_FORM = "start/end, e.g. 2026-02-24T13:00-0800/2026-02-28T15:30-0800"


def _parse_dates(series: pd.Series) -> pd.Series:
    text = series.str.replace(r"([0-9])(?: ?T| )([0-9]{1,2}:)", r"\1T\2", regex=True)
    text = text.str.replace(r"T([0-9]):", r"T0\1:", regex=True)
    text = text.str.replace(r"([+-][0-9]{2})([0-9]{2})$", r"\1:\2", regex=True)
    return pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")


def _date_problem(value: str) -> str | None:
    """What is wrong with one date as written, or ``None``."""
    if not re.fullmatch(_DATE, value):
        return "it is not in ISO 8601 form"
    if pd.isna(_parse_dates(pd.Series([value], dtype="str")).iloc[0]):
        return "that date or time does not exist"
    return None


def _interval_problem(value: str) -> str:
    start, slash, end = value.partition("/")
    if not slash:
        return "it is not a start and an end separated by '/'"
    for name, part in (("start", start), ("end", end)):
        problem = _date_problem(part)
        if problem:
            return f"its {name} '{part}': {problem}"
    first, last = _parse_dates(pd.Series([start, end], dtype="str"))
    return "the end is before the start" if last < first else "the end is the same as the start"


@rule("item.date_invalid", hint=lambda v, p: {"problem": _date_problem(v), "hint": DATE_FORM})
def iso_date(series: pd.Series) -> pd.Series:
    def valid(values: pd.Series) -> pd.Series:
        shaped = values.str.fullmatch(_DATE)
        return shaped & _parse_dates(values.where(shaped, "")).notna()

    return where_present(series, valid)


def _interval(series: pd.Series) -> pd.Series:
    """The end of each valid ``start/end`` value (both dates real, the end after the start); NaT elsewhere."""
    parts = extract(series, r"^(?P<start>[^/]*)/(?P<end>.*)")
    shaped = series.str.fullmatch(_DATE + "/" + _DATE)
    start = _parse_dates(parts["start"].where(shaped, ""))
    end = _parse_dates(parts["end"].where(shaped, ""))
    return end.where(shaped & start.notna() & end.notna() & (start < end))


@rule("item.date_invalid", hint=lambda v, p: {"problem": _interval_problem(v), "hint": INTERVAL_FORM})
def date_interval(series: pd.Series) -> pd.Series:
    return where_present(series, lambda values: _interval(values).notna())


def _expired_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"hint": "on " + value.split("/", 1)[-1][:10]}


@rule("item.sale_expired", ("now",), hint=_expired_hint, turns=_interval)
def not_expired(series: pd.Series, *, now: str) -> pd.Series:
    """A valid sale window whose end has passed (an invalid one is ``item.date_invalid``'s alone)."""
    return where_present(series, lambda values: ~(_interval(values) < pd.Timestamp(now)).fillna(False))
