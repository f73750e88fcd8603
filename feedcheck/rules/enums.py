"""Rules on enumerated values: one of the channel's values, written the channel's way."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.registry import rule
from feedcheck.rules.series import each_distinct, norm, normalise_token, present

declare({
    "item.invalid_value": code(
        "Value not allowed",
        "error",
        "'{value}' is not a valid {field}. Allowed: {allowed}.{hint}",
    ),
    "feed.alternative_spelling": code(
        "Alternative spellings",
        "info",
        "{field} is written in a spelling {channel} accepts on {count:items}: {spellings:changes}. The cleaned "
        "catalog writes {channel}'s own spelling; nothing to change.",
    ),
})


def _accepted(allowed: list[str], alternatives: Mapping[str, str]) -> set[str]:
    """The values a channel takes, and the alternative spellings it accepts, as :func:`norm` compares them."""
    return {norm(a) for a in allowed} | {norm(a) for a in alternatives}


def _enum_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    allowed = list(params["allowed"])
    close = difflib.get_close_matches(norm(value), allowed, n=1, cutoff=0.6)
    return {"allowed": ", ".join(allowed), "hint": f" Did you mean '{close[0]}'?" if close else ""}


@rule("item.invalid_value", ("allowed", "alternatives"), hint=_enum_hint)
def one_of(series: pd.Series, *, allowed: list[str], alternatives: dict[str, str]) -> pd.Series:
    accepted = _accepted(allowed, alternatives)
    return ~present(series) | normalise_token(series).isin(accepted)


def canonical_value(value: str, allowed: list[str], alternatives: Mapping[str, str]) -> str | None:
    """The channel's spelling of an accepted value, or ``None`` if it is not accepted.

    >>> canonical_value("In_Stock", ["in stock", "out of stock"], {})
    'in stock'
    >>> canonical_value("backorder", ["available for order"], {"backorder": "available for order"})
    'available for order'
    """
    key = norm(value)
    by_norm = {norm(a): a for a in allowed} | {norm(k): v for k, v in alternatives.items()}
    return by_norm.get(key)


@rule(
    "feed.alternative_spelling",
    ("allowed", "alternatives"),
    hint=lambda v, p: {"hint": canonical_value(v, p["allowed"], p["alternatives"])},
    summarised=True,
)
def canonical_spelling(series: pd.Series, *, allowed: list[str], alternatives: dict[str, str]) -> pd.Series:
    accepted = _accepted(allowed, alternatives)
    return ~normalise_token(series).isin(accepted) | series.isin(allowed)


def _each_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    accepted = _accepted(params["allowed"], params["alternatives"])
    wrong = next((part.strip() for part in value.split(",") if norm(part) not in accepted), value)
    found = _enum_hint(wrong, params)
    return found | {"hint": f" '{wrong}' is not one of them.{found['hint']}"}


@rule("item.invalid_value", ("allowed", "alternatives"), hint=_each_hint)
def each_one_of(series: pd.Series, *, allowed: list[str], alternatives: dict[str, str]) -> pd.Series:
    """For attributes that take several values (comma-separated in text feeds, repeated in XML): each allowed."""
    accepted = _accepted(allowed, alternatives)
    return each_distinct(series, lambda value: all(norm(p) in accepted for p in value.split(",") if p.strip()))
