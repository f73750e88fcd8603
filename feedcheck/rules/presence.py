"""Rules on whether a field is there: required, recommended, required when another field says so, and the product identifiers."""

from __future__ import annotations

import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.registry import rule
from feedcheck.rules.series import col, norm, normalise_token, present

declare({
    "item.missing_required": code(
        "Required value missing",
        "error",
        "'{field}' is empty; {channel} rejects items without it. Fill it in the export.",
    ),
    "item.missing_recommended": code(
        "Recommended value missing",
        "info",
        "'{field}' is empty; {channel} recommends it ({detail}).",
    ),
    "item.missing_conditional": code(
        "Value required by another field missing",
        "error",
        "'{field}' is empty but required when {detail}.",
    ),
    "item.missing_identifier": code(
        "No product identifiers",
        "warning",
        "The item has {detail}. Add the manufacturer's GTIN, or brand and MPN, or set "
        "identifier_exists to 'no' for custom or handmade products.",
        on={"meta": "error"},  # Meta's products vertical requires a brand, a GTIN or an MPN on every item
        sources={"google": "https://support.google.com/merchants/answer/6324478"},
    ),
    "item.identifier_exists_conflict": code(
        "identifier_exists says no, but identifiers are present",
        "warning",
        "identifier_exists is '{value}' but the item has a GTIN or brand and MPN. Remove "
        "identifier_exists, or the identifiers.",
    ),
})


@rule("item.missing_required")
def required(series: pd.Series) -> pd.Series:
    return present(series)


@rule("item.missing_recommended", ("reason",), hint=lambda v, p: {"detail": p["reason"]})
def recommended(series: pd.Series, *, reason: str) -> pd.Series:
    return present(series)


@rule("item.missing_conditional", ("field", "when", "values"), frame=True,
       hint=lambda v, p: {"detail": f"{p['when']} is {' or '.join(p['values'])}"})
def required_when(frame: pd.DataFrame, *, field: str, when: str, values: list[str]) -> pd.Series:
    triggered = normalise_token(col(frame, when)).isin([norm(v) for v in values])
    return ~(triggered & ~present(col(frame, field)))


def _no_identifier_claimed(frame: pd.DataFrame) -> pd.Series:
    if "identifier_exists" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return normalise_token(col(frame, "identifier_exists")).isin(["no", "false"])


@rule("item.missing_identifier", ("field", "mode"), frame=True,
       reads=("gtin", "mpn", "brand", "condition", "identifier_exists"),
       hint=lambda v, p: {"detail": "no GTIN, and no brand with an MPN" if p["mode"] == "gtin_or_brand_mpn"
                          else "no brand, GTIN or MPN"})
def identifiers(frame: pd.DataFrame, *, field: str, mode: str) -> pd.Series:
    gtin, mpn, brand = (present(col(frame, c)) for c in ("gtin", "mpn", "brand"))
    if mode == "gtin_or_brand_mpn":
        used = col(frame, "condition").str.strip().str.lower().isin(["used", "refurbished"])
        return gtin | (brand & mpn) | _no_identifier_claimed(frame) | used
    return gtin | mpn | brand


@rule("item.identifier_exists_conflict", ("field",), frame=True, reads=("gtin", "brand", "mpn", "identifier_exists"))
def identifier_exists_consistent(frame: pd.DataFrame, *, field: str) -> pd.Series:
    has_ids = present(col(frame, "gtin")) | (present(col(frame, "brand")) & present(col(frame, "mpn")))
    return ~(_no_identifier_claimed(frame) & has_ids)
