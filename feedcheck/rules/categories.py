"""Rules on categories: a ``google_product_category`` Google's taxonomy knows, and the attributes Google
requires of the items of some categories (apparel) in some countries.

Where the category decides a requirement, Google's own category is what counts: the item's
``google_product_category`` read as an id or an exact path of the taxonomy shipped with feedcheck
(:mod:`feedcheck.rules.taxonomy`).  An item without a readable one is left alone; Google picks its category
then, and feedcheck cannot know which.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.registry import rule
from feedcheck.rules.series import col, each_distinct, present
from feedcheck.rules.taxonomy import google_taxonomy

_CATEGORY_PAGE = "https://support.google.com/merchants/answer/6324436"

declare({
    "item.category_unknown": code(
        "Category not in Google's taxonomy",
        "warning",
        "google_product_category '{value}' is neither an id nor a path of Google's product taxonomy "
        "({version}), so {channel} ignores it and picks a category itself. {hint}",
        sources={"google": _CATEGORY_PAGE},
    ),
    "item.category_too_broad": code(
        "Category too broad",
        "warning",
        "google_product_category '{value}' is '{path}', {depth} level(s) deep; {channel} asks for at least "
        "{minimum}, since the category decides where and how the item is shown (and its tax on checkout). "
        "Choose the most specific category that fits.",
        sources={"meta": "https://developers.facebook.com/docs/commerce-platform/catalog/best-practices"},
    ),
    "item.category_attribute_missing": code(
        "Attribute its category requires missing",
        "error",
        "'{field}' is empty, and Google requires it of items in {family} (this one is in '{category}'): "
        "{consequence}",
        sources={"google": "https://support.google.com/merchants/answer/6324463"},
    ),
})


def _category_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    taxonomy = google_taxonomy()
    found = taxonomy.suggest(value)
    if not found:
        hint = "No category's name contains it; find the category in the taxonomy and send its id."
    elif len(found) == 1 and (">" in value or value.casefold() == found[0].casefold()):
        hint = f"Did you mean '{found[0]}' (id {taxonomy.ids[found[0]]})?"
    else:
        hint = "Categories that name it: " + "; ".join(f"{taxonomy.ids[p]} '{p}'" for p in found) + "."
    return {"hint": hint, "version": taxonomy.version}


def _depth(value: str) -> int | None:
    """How many levels deep the category ``value`` names is; ``None`` when it names none."""
    taxonomy = google_taxonomy()
    category = taxonomy.category_of(value)
    return None if category is None else len(taxonomy.lineage[category])


def _depth_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Only a category the taxonomy knows fails :func:`category_depth`, so its path is there."""
    taxonomy = google_taxonomy()
    category = taxonomy.category_of(value)
    assert category is not None
    return {"depth": len(taxonomy.lineage[category]), "path": taxonomy.paths[category]}


@rule("item.category_too_broad", ("minimum",), hint=_depth_hint)
def category_depth(series: pd.Series, *, minimum: int) -> pd.Series:
    """A category of the taxonomy at least ``minimum`` levels deep (one it does not know passes: that is
    ``item.category_unknown``)."""
    return each_distinct(series, lambda value: (depth := _depth(value)) is None or depth >= minimum)


@rule("item.category_unknown", hint=_category_hint)
def google_category(series: pd.Series) -> pd.Series:
    taxonomy = google_taxonomy()
    return each_distinct(series, lambda value: taxonomy.category_of(value) is not None)


def _missing_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    taxonomy = google_taxonomy()
    category = taxonomy.category_of(str(params["_row"].get("google_product_category", "")))
    return {"category": taxonomy.paths.get(category, "?") if category is not None else "?"}


@rule("item.category_attribute_missing", ("field", "family", "within", "exempt", "severity", "consequence"),
      frame=True, reads=("google_product_category",), hint=_missing_hint)
def required_in_category(frame: pd.DataFrame, *, field: str, family: str, within: list[int], exempt: list[int],
                         severity: str, consequence: str) -> pd.Series:
    """Items whose Google category is under ``within`` (and not under ``exempt``) must have ``field``."""
    taxonomy = google_taxonomy()
    roots, spared = frozenset(within), frozenset(exempt)
    categories = col(frame, "google_product_category")
    bound = [value for value in categories.unique() if taxonomy.within(category := taxonomy.category_of(value), roots)
             and not taxonomy.within(category, spared)]
    return ~categories.isin(bound) | present(col(frame, field))
