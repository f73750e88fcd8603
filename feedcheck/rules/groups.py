"""Rules on Google's grouped attributes that have a fixed form: ``installment`` (months, amount),
``subscription_cost`` (period, length, amount), ``free_shipping_threshold`` (country, threshold), the
business days of handling and transit (country, days), and the structured title and description (the
source of a text written by generative AI, then the text).

A schema describes the group's parts in order as ``name:kind``: ``whole`` (a whole number), ``price``
(``12.50 USD``), ``country`` (ISO 3166-1), ``days`` (days of the week, see :func:`days_problem`), ``text``
(up to ``text<=N`` characters), or the allowed words separated by ``|``; a trailing ``?`` makes a part
optional (it may be empty, and left out at the end). Text feeds separate the parts with ``:`` and the groups
with ``,``; the XML reader writes a group element the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.countries import country_code
from feedcheck.rules.prices import PRICE_RE
from feedcheck.rules.registry import rule
from feedcheck.rules.series import each_distinct

declare({
    "item.group_invalid": code(
        "Grouped attribute not in its form",
        "error",
        "'{field}' is '{value}': {hint}",
    ),
})


# Google takes a day as a letter (R is Thursday, U Sunday), three letters or its whole name.
_DAYS = [("m", "mon", "monday"), ("t", "tue", "tuesday"), ("w", "wed", "wednesday"), ("r", "thu", "thursday"),
         ("f", "fri", "friday"), ("s", "sat", "saturday"), ("u", "sun", "sunday")]
_DAY_NAMES = frozenset(name for day in _DAYS for name in day)
_LETTERS = re.compile(r"[MTWRFSU]+")


def days_problem(text: str) -> str:
    """What keeps ``text`` from being Google's business days, or ``""``: days separated by ``;`` or a range
    with a dash (``Mon-Fri``, ``Mon;Wed;Fri``, ``Monday-Thursday``), or day letters run together (``MTWRF``).

    >>> days_problem("Mon-Fri"), days_problem("MTWRF"), days_problem("Mon;Wed;Sat")
    ('', '', '')
    >>> days_problem("weekdays")
    "'weekdays' is not a day (write M, Mon or Monday; R is Thursday, U Sunday)"
    """
    if _LETTERS.fullmatch(text):
        return ""
    for piece in re.split(r"[;-]", text):
        if piece.strip().lower() not in _DAY_NAMES:
            return f"'{piece.strip()}' is not a day (write M, Mon or Monday; R is Thursday, U Sunday)"
    return ""


def _part_problem(name: str, kind: str, text: str) -> str:
    if kind == "whole":
        return "" if text.isascii() and text.isdigit() else f"{name} '{text}' is not a whole number"
    if kind == "price":
        return "" if re.fullmatch(PRICE_RE, text) else f"{name} '{text}' is not an amount and a currency (12.50 USD)"
    if kind == "country":
        return "" if country_code(text) else f"{name} '{text}' is not an ISO 3166-1 country code"
    if kind == "days":
        return f"{name} {days_problem(text)}" if days_problem(text) else ""
    if kind.startswith("text"):
        limit = int(kind.partition("<=")[2] or 0)
        if not text:
            return f"{name} is empty"
        return f"{name} has {len(text):,} characters, over {limit:,}" if limit and len(text) > limit else ""
    words = kind.split("|")
    return "" if text.lower() in words else f"{name} '{text}' is not one of {', '.join(words)}"


def group_problem(value: str, parts: list[str]) -> str:
    """What keeps ``value`` from being groups of ``parts``, or ``""``."""
    form = ":".join(part.split(":")[0] for part in parts)
    needed = max((i + 1 for i, part in enumerate(parts) if not part.endswith("?")), default=0)
    for group in value.split(","):
        pieces = [piece.strip() for piece in group.strip().split(":")]
        if not needed <= len(pieces) <= len(parts):
            return f"write {form} (the group '{group.strip()}' has {len(pieces)} part(s))."
        for part, text in zip(parts, pieces):
            name, kind = part.rstrip("?").split(":", 1)
            problem = _part_problem(name, kind, text) if text or not part.endswith("?") else ""
            if problem:
                return problem + f"; write {form}."
    return ""


def _group_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"hint": group_problem(value, params["parts"])}


@rule("item.group_invalid", ("parts",), hint=_group_hint)
def group_form(series: pd.Series, *, parts: list[str]) -> pd.Series:
    return each_distinct(series, lambda value: not group_problem(value, parts))


# The sources Google takes for a title or description, and the longest text of each (answer 6324415, 6324468).
SOURCE_TYPES = ("default", "trained_algorithmic_media")


def structured_problem(value: str, limit: int) -> str:
    """What keeps ``value`` from being a structured title or description, ``digital_source_type:content``
    (the source may be left out; the content may hold colons and commas), or ``""``."""
    source, colon, content = value.partition(":")
    if not colon or source.strip().lower() not in SOURCE_TYPES:
        source, content = "", value
    if not content.strip():
        return f"its content is empty; write {' or '.join(SOURCE_TYPES)}, a colon and the text."
    if len(content) > limit:
        return f"its content has {len(content):,} characters, over {limit:,}."
    return ""


def _structured_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"hint": structured_problem(value, params["limit"])}


@rule("item.group_invalid", ("limit",), hint=_structured_hint)
def structured_text(series: pd.Series, *, limit: int) -> pd.Series:
    return each_distinct(series, lambda value: not structured_problem(value, limit))
