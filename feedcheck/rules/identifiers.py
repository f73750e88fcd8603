"""Rules on identifiers: item ids, and GTINs (length, GS1 check digit, restricted prefixes)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.registry import rule
from feedcheck.rules.series import CONTROL, WHITESPACE, col, present

_GTIN_OPTIONAL = {"tiktok": "warning", "meta": "warning"}

declare({
    "item.brand_missing": code(
        "GTIN without a brand",
        "error",
        "The item has GTIN '{value}' but no brand; a product with a manufacturer's GTIN has a brand, and "
        "{channel} requires it. Add the brand.",
        sources={"google": "https://support.google.com/merchants/answer/6324351"},
    ),
    "item.id_invalid": code("Unusable id", "error", "{hint}"),
    "item.id_suspicious": code(
        "Id looks mangled by a spreadsheet",
        "warning",
        "Id '{value}' looks like a number a spreadsheet rewrote in scientific notation; the "
        "original SKU is lost. Export ids as text.",
    ),
    # Google rejects a bad GTIN; TikTok lists "GTIN missing" only as a suggestion, and Meta does not require one.
    "item.gtin_format": code("GTIN not 8, 12, 13 or 14 digits", "error", "{hint}", on=_GTIN_OPTIONAL,
                             sources={"google": "https://support.google.com/merchants/answer/6286302", "tiktok": "https://ads.tiktok.com/help/article/list-of-catalog-product-issues-and-suggested-actions"},),
    "item.gtin_check_digit": code(
        "GTIN check digit wrong",
        "error",
        "GTIN '{value}' fails the GS1 check digit (expected {hint}). It is mistyped or "
        "invented; copy it from the packaging or leave it empty.",
        on=_GTIN_OPTIONAL,
        sources={"google": "https://support.google.com/merchants/answer/6286302", "tiktok": "https://ads.tiktok.com/help/article/list-of-catalog-product-issues-and-suggested-actions"},
    ),
    "item.gtin_restricted": code(
        "GTIN with a restricted or coupon prefix",
        "error",
        "GTIN '{value}' {hint}; channels do not accept it as a product identifier.",
        on=_GTIN_OPTIONAL,
        sources={"google": "https://support.google.com/merchants/answer/6286302", "tiktok": "https://ads.tiktok.com/help/article/list-of-catalog-product-issues-and-suggested-actions"},
    ),
})


def _id_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if re.search(CONTROL, value):
        return {"hint": f"Id '{value}' contains invisible control characters; remove them from the SKU."}
    return {
        "hint": f"Id '{value}' contains spaces; ids should be letters, digits, '-' and '_' only. "
        "Replace the spaces, and send the same id in your pixel and server events."
    }


@rule("item.id_invalid", hint=_id_hint)
def id_chars(series: pd.Series) -> pd.Series:
    return ~series.str.contains(f"[{WHITESPACE}]|{CONTROL}", regex=True)


@rule("item.id_suspicious")
def id_not_scientific(series: pd.Series) -> pd.Series:
    return ~series.str.fullmatch(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+")


# --- GTIN -----------------------------------------------------------------

GTIN_LENGTHS = (8, 12, 13, 14)


def _gtin_digits(series: pd.Series) -> pd.Series:
    return series.str.replace(f"[{WHITESPACE}-]", "", regex=True)


def _gtin_format_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    digits = re.sub(r"[\s-]", "", value)
    if not digits.isdigit():
        return {"hint": f"GTIN '{value}' contains letters or symbols; a GTIN is 8, 12, 13 or 14 digits. "
                "Internal codes belong in mpn; leave gtin empty if the product has none."}
    return {"hint": f"GTIN '{value}' has {len(digits)} digits; a GTIN has 8, 12, 13 or 14 "
            "(UPC 12, EAN 13, ITF 14). Check it was not cut off or padded."}


@rule("item.gtin_format", hint=_gtin_format_hint)
def gtin_format(series: pd.Series) -> pd.Series:
    digits = _gtin_digits(series)
    return ~present(series) | (digits.str.fullmatch("[0-9]+") & digits.str.len().isin(GTIN_LENGTHS))


def gtin_check_digit_of(body: str) -> int:
    """GS1 mod-10 check digit for the digits before it.

    >>> gtin_check_digit_of("69861507052")
    7
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _well_formed_gtins(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    digits = _gtin_digits(series)
    ok = digits.str.fullmatch("[0-9]+").fillna(False) & digits.str.len().isin(GTIN_LENGTHS)
    return ok.astype(bool), digits.where(ok, "").str.zfill(14)


@rule("item.gtin_check_digit", hint=lambda v, p: {"hint": gtin_check_digit_of(re.sub(r"[\s-]", "", v)[:-1])})
def gtin_check_digit(series: pd.Series) -> pd.Series:
    ok, padded = _well_formed_gtins(series)
    result = pd.Series(True, index=series.index)
    if not ok.any():
        return result
    values = padded[ok].to_numpy(dtype="U14").astype("S14")
    digits = np.frombuffer(values.tobytes(), dtype=np.uint8).reshape(-1, 14) - ord("0")
    weights = np.array([3, 1] * 6 + [3], dtype=np.int64)
    expected = (10 - (digits[:, :13] @ weights) % 10) % 10
    result[ok] = expected == digits[:, 13]
    return result


_RESTRICTED = {
    "02": "is a restricted-circulation number (variable-weight or in-store)",
    "04": "is an in-store number for a retailer's internal use",
    "2": "is a restricted-circulation (in-store) number",
    "05": "is a coupon number",
    "98": "is a coupon or refund-receipt number",
    "99": "is a coupon number",
}


def _restricted_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    body = re.sub(r"[\s-]", "", value).zfill(14)[1:]
    reason = next((r for p, r in _RESTRICTED.items() if body.startswith(p)), "has a restricted prefix")
    return {"hint": reason}


@rule("item.gtin_restricted", hint=_restricted_hint)
def gtin_prefix(series: pd.Series) -> pd.Series:
    ok, padded = _well_formed_gtins(series)
    body = padded.str.slice(1)
    restricted = body.str.match("|".join(_RESTRICTED)) & (padded.str.slice(0, 6) != "000000")
    return ~(ok & restricted.fillna(False))


@rule("item.brand_missing", ("field",), frame=True, reads=("brand",))
def gtin_with_brand(frame: pd.DataFrame, *, field: str) -> pd.Series:
    """An item with a GTIN (in ``field``) has a brand."""
    return ~(present(col(frame, field)) & ~present(col(frame, "brand")))
