"""Rules on prices: the amount and ISO 4217 currency, its minor units, the catalog's currency, a sale below the price."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.currencies import ISO_4217, MINOR_UNITS
from feedcheck.rules.registry import rule
from feedcheck.rules.series import col, extract, present, where_present

declare({
    "item.price_invalid": code("Price not in '12.50 USD' form", "error", "{field} {hint}"),
    "item.currency_unknown": code(
        "Unknown currency code",
        "error",
        "'{hint}' in {field} '{value}' is not an ISO 4217 currency code. Use a code such as "
        "USD, EUR or GBP.",
    ),
    "item.currency_mismatch": code(
        "Price in another currency than the catalog",
        "error",
        "{field} '{value}' is not in {currency}, the catalog's currency; {channel} requires "
        "every price in the catalog currency. Convert it, or move the item to a catalog in "
        "that currency.",
        # TikTok fixes a catalog's currency when it is made; Google and Meta convert other currencies.
        on={"google": "warning", "meta": "warning"},
        sources={"tiktok": "https://ads.tiktok.com/help/article/create-manage-catalogs", "google": "https://support.google.com/merchants/answer/6324371"},
    ),
    "item.price_decimals": code(
        "Decimals the currency does not have",
        "warning",
        "{field} '{value}' has {hint}. Round the price to the currency's minor unit.",
    ),
    "item.sale_price_above_price": code(
        "Sale price not below the price",
        "error",
        "sale_price '{value}' is not lower than price '{hint}'. A sale price must be below "
        "the regular price, in the same currency.",
    ),
})


PRICE_RE = r"[0-9]+(\.[0-9]+)? [A-Z]{3}"


def explain_price(value: str, currency: str = "USD") -> str:
    """Say what is wrong with a price and how to write it, with ``currency`` (the feed's) in examples.

    >>> explain_price("169,00 EUR")
    "'169,00 EUR' uses a decimal comma; write '169.00 EUR' (a dot, no thousands separators)."
    >>> explain_price("EUR", "EUR")
    "'EUR' is not a number followed by a currency code; write it like '12.50 EUR'."
    """
    v = value.strip()
    match = re.fullmatch(r"([^\d\s]{0,3})\s*([\d.,\s']+?)\s*([A-Za-z]{3})?", v)
    if re.fullmatch(r"[A-Z]{3}\s*\d+([.,]\d+)?", v):
        number, code = v[3:].strip(), v[:3]
        return f"'{value}' puts the currency first; write '{number.replace(',', '.')} {code}'."
    if match and match.group(1):
        return (f"'{value}' uses a currency symbol; write the number then the ISO 4217 code, e.g. "
                f"'{_fixed(match.group(2).strip()) if match.group(2) else '12.50'} {currency}'.")
    if match and match.group(2):
        number, code = match.group(2).replace(" ", "").replace("'", ""), match.group(3)
        if not code:
            return f"'{value}' has no currency; add the ISO 4217 code, e.g. '{_fixed(number)} {currency}'."
        if code != code.upper():
            return f"'{value}' has a lower-case currency; write '{_fixed(number)} {code.upper()}'."
        if re.fullmatch(r"\d{1,3}([.,]\d{3})+([.,]\d+)?", number) and not re.fullmatch(r"\d+([.,]\d{1,2})", number):
            return f"'{value}' has thousands separators; write '{_fixed(number)} {code}'."
        if re.fullmatch(r"\d+,\d+", number):
            return f"'{value}' uses a decimal comma; write '{_fixed(number)} {code}' (a dot, no thousands separators)."
    return f"'{value}' is not a number followed by a currency code; write it like '12.50 {currency}'."


def _fixed(number: str) -> str:
    """Best reading of a human-formatted number as ``1234.50``."""
    if re.fullmatch(r"\d+,\d{1,2}", number):
        return number.replace(",", ".")
    if re.fullmatch(r"\d{1,3}(\.\d{3})+,\d+", number):
        return number.replace(".", "").replace(",", ".")
    return number.replace(",", "")


# "$" and "¥" name several currencies, so they are not read.
_SYMBOLS = {"€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₺": "TRY"}
_LOOSE_PRICE = re.compile(r"(?:([A-Za-z]{3})|([€£₹₩₺]))?\s*(\d[\d.,' ]*?)\s*(?:([A-Za-z]{3})|([€£₹₩₺]))?")


def rewrite_price(value: str) -> str | None:
    """The ``12.50 EUR`` form of a price written another way that can be read only one way, else ``None``.

    Currency first or glued on, lower-case codes, the € and £ symbols, decimal commas and
    thousands separators are unambiguous; ``1,500 EUR`` (1.5 or 1500?) and ``$12`` are not.
    Amounts are padded to the currency's decimals, never rounded.

    >>> rewrite_price("EUR 12,5"), rewrite_price("12.50eur"), rewrite_price("€1,234.50"), rewrite_price("1.234,5 EUR")
    ('12.50 EUR', '12.50 EUR', '1234.50 EUR', '1234.50 EUR')
    >>> rewrite_price("1,500 EUR"), rewrite_price("$12.50"), rewrite_price("12.50 USD"), rewrite_price("1.999 EUR")
    (None, None, None, None)
    >>> rewrite_price("1 234,50 EUR"), rewrite_price("12 50 EUR"), rewrite_price("12'50 EUR")
    ('1234.50 EUR', None, None)
    """
    match = _LOOSE_PRICE.fullmatch(value.strip())
    if not match:
        return None
    marks = [m for m in match.group(1, 4) if m] + [_SYMBOLS[m] for m in match.group(2, 5) if m]
    if len(marks) != 1 or marks[0].upper() not in MINOR_UNITS:
        return None
    code = marks[0].upper()
    number = match.group(3)
    if re.search(r"[ ']", number):  # 1 234,50 and 1'234.50 group thousands; 12 50 is no number
        if not re.fullmatch(r"\d{1,3}([ ']\d{3})+([.,]\d{1,2})?", number):
            return None
        number = number.replace(" ", "").replace("'", "")
    amount = _amount(number)
    digits = MINOR_UNITS[code]
    if amount is None or -amount.as_tuple().exponent > digits:  # type: ignore[operator]
        return None
    text = f"{amount:.{digits}f} {code}"
    return None if text == value.strip() else text


def _amount(number: str) -> Decimal | None:
    """A number written with a decimal comma or thousands separators, when it can be read only one way."""
    for pattern, thousands, decimal in (
        (r"\d+(\.\d+)?", "", "."),
        (r"\d+,\d{1,2}", "", ","),
        (r"\d{1,3}(,\d{3})+(\.\d+)?", ",", "."),
        (r"\d{1,3}(\.\d{3})+(,\d+)?", ".", ","),
    ):
        if re.fullmatch(pattern, number):
            plain = number.replace(thousands, "") if thousands else number
            amount = Decimal(plain.replace(decimal, "."))
            return None if re.fullmatch(r"\d{1,3}[.,]\d{3}", number) else amount  # 1,500: thousands or decimals?
    return None


def parse_price(value: str) -> tuple[str, str] | None:
    """Split a well-formed price into amount and currency, or ``None``.

    >>> parse_price("12.50 EUR")
    ('12.50', 'EUR')
    """
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?) ([A-Z]{3})", value)
    return (match.group(1), match.group(2)) if match else None


@rule("item.price_invalid", hint=lambda v, p: {"hint": explain_price(v, p.get("_currency") or "USD")})
def price_format(series: pd.Series) -> pd.Series:
    return ~present(series) | series.str.fullmatch(PRICE_RE)


def _currency(series: pd.Series) -> pd.Series:
    return extract(series, r"^[0-9]+(?:\.[0-9]+)? (?P<code>[A-Z]{3})$")["code"]


@rule("item.currency_unknown", hint=lambda v, p: {"hint": v.rsplit(" ", 1)[-1]})
def currency_code(series: pd.Series) -> pd.Series:
    def known(values: pd.Series) -> pd.Series:
        code = _currency(values)
        return (code == "") | code.isin(ISO_4217)

    return where_present(series, known)


def _decimals_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    amount, code = value.rsplit(" ", 1)
    places = len(amount.partition(".")[2])
    allowed = MINOR_UNITS.get(code, 2)
    return {"hint": f"{places} decimal places but {code} has {allowed}"}


@rule("item.price_decimals", hint=_decimals_hint)
def currency_decimals(series: pd.Series) -> pd.Series:
    return where_present(series, _decimals_ok)


def _decimals_ok(series: pd.Series) -> pd.Series:
    parts = extract(series, r"^[0-9]+(?:\.(?P<decimals>[0-9]+))? (?P<code>[A-Z]{3})$")
    places = parts["decimals"].str.len().to_numpy()
    allowed = parts["code"].map(MINOR_UNITS).fillna(2).to_numpy(dtype=np.int64)
    return (parts["code"] == "") | pd.Series(places <= allowed, index=series.index) | (
        parts["decimals"].str.fullmatch("0*"))


@rule("item.currency_mismatch", ("currency",), hint=lambda v, p: {"currency": p["currency"]})
def catalog_currency(series: pd.Series, *, currency: str) -> pd.Series:
    code = _currency(series)
    return (code == "") | (code == currency)


@rule("item.sale_price_above_price", ("field",), frame=True, reads=("price",),
       hint=lambda v, p: {"hint": p["_row"]["price"]})
def sale_below_price(frame: pd.DataFrame, *, field: str) -> pd.Series:
    result = pd.Series(True, index=frame.index)
    offered = col(frame, field)
    on_sale = present(offered).to_numpy()
    if not on_sale.any():
        return result
    pattern = r"^(?P<amount>[0-9]+(?:\.[0-9]+)?) (?P<code>[A-Z]{3})$"
    sale = extract(offered[on_sale], pattern)
    price = extract(col(frame, "price")[on_sale], pattern)
    both = (sale["amount"] != "") & (price["amount"] != "")
    lower = pd.to_numeric(sale["amount"], errors="coerce") < pd.to_numeric(price["amount"], errors="coerce")
    result[on_sale] = (~both | (lower & (sale["code"] == price["code"])).fillna(False)).astype(bool).to_numpy()
    return result
