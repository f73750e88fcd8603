"""The rules channel schemas are made of, registered once as pandera checks.

Each check is vectorised (it takes a whole column, or the whole chunk for
rules that compare fields) and is bound to exactly one finding code in
:data:`RULES`.  Empty values pass every check except ``required`` and the
conditional ones: "missing" is its own finding, reported once.

A schema names a check as ``Check.max_length(limit=150)``; when it fails,
:mod:`feedcheck.rules.validate` looks the check up here to get the code and to
compute the per-value part of the message (a "did you mean", the expected
check digit…), only for the examples that are kept.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandera import extensions

from feedcheck.rules.currencies import ISO_4217, MINOR_UNITS

# A hint turns a failing value (and the rule's parameters; for rules across
# fields also ``_row``, the item's values) into extra message parameters.
Hint = Callable[[str, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Rule:
    """What a registered check reports: its finding code and how to explain a value."""

    code: str
    hint: Hint | None = None
    frame: bool = False
    reads: tuple[str, ...] = ()  # a rule across fields: the columns it reads besides those it names
    turns: Turns | None = None  # a rule that compares with ``now``: when its verdict on each value changes


# The moments (UTC timestamps, NaT for none) at which a clock rule's verdict on each value changes: what a
# cached check's verdicts depend on, so the cache can tell when they no longer hold.
Turns = Callable[[pd.Series], pd.Series]

RULES: dict[str, Rule] = {}


def _rule(code: str, statistics: tuple[str, ...] = (), *, hint: Hint | None = None, frame: bool = False,  # type: ignore[no-untyped-def]
          reads: tuple[str, ...] = (), turns: Turns | None = None):
    def register(fn: Callable[..., pd.Series]) -> Callable[..., pd.Series]:
        extensions.register_check_method(
            statistics=list(statistics), supported_types=pd.DataFrame if frame else pd.Series
        )(fn)
        RULES[fn.__name__] = Rule(code, hint, frame, reads, turns)
        return fn

    return register


# Python's ``\s`` spelt out: pandas hands a pattern with ``\s``, ``\u`` escapes or (on non-ASCII
# text) ``\d`` to Python's ``re`` one value at a time, where the same rule as a literal class runs in
# Arrow's vectorised engine.  Digits are written ``[0-9]`` for the same reason: channels read
# ASCII digits only.
WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def normalise_token(series: pd.Series) -> pd.Series:
    """Lower-case, spaces for ``_``/``-``, single spaces: how enums are compared."""
    return series.str.strip().str.lower().str.replace(f"[{WHITESPACE}_-]+", " ", regex=True)


def _norm(value: str) -> str:
    return re.sub(r"[\s_-]+", " ", value.strip().lower())


def extract(series: pd.Series, pattern: str) -> dict[str, pd.Series]:
    """The named groups of ``pattern``'s first match in each value, ``""`` where it does not match.

    pandas runs ``str.extract`` in Python one value at a time; Arrow's kernel
    is vectorised and reads the same patterns (named groups, no ``\\s``).

    >>> prices = pd.Series(["12.50 EUR", "12 €"], dtype="str")
    >>> extract(prices, "(?P<amount>[0-9.]+) (?P<code>[A-Z]{3})")["code"].tolist()
    ['EUR', '']
    """
    matches = pc.extract_regex(pa.array(series.array), pattern)
    return {
        name: pd.Series(pd.array(pc.fill_null(pc.struct_field(matches, name), ""), dtype="str"), index=series.index)
        for name in re.compile(pattern).groupindex
    }


def _present(series: pd.Series) -> pd.Series:
    return series.str.len() > 0


def _where_present(series: pd.Series, check: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Run a costly check on the non-empty values only; empty values pass.

    Optional fields are empty in most feeds, and parsing dates or prices of
    empty strings would dominate the run.
    """
    present = _present(series).to_numpy()
    result = pd.Series(True, index=series.index)
    if present.any():
        result[present] = check(series[present]).fillna(False).astype(bool).to_numpy()
    return result


# --- presence -------------------------------------------------------------


@_rule("item.missing_required")
def required(series: pd.Series) -> pd.Series:
    return _present(series)


@_rule("item.missing_recommended", ("reason",), hint=lambda v, p: {"detail": p["reason"]})
def recommended(series: pd.Series, *, reason: str) -> pd.Series:
    return _present(series)


# --- length and counts ----------------------------------------------------


def _length_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"length": f"{len(value):,}", "limit": f"{params['limit']:,}"}


@_rule("item.too_long", ("limit",), hint=_length_hint)
def max_length(series: pd.Series, *, limit: int) -> pd.Series:
    return series.str.len() <= limit


@_rule("item.longer_than_recommended", ("limit",), hint=_length_hint)
def recommended_length(series: pd.Series, *, limit: int) -> pd.Series:
    return series.str.len() <= limit


@_rule("item.too_many_values", ("limit",), hint=lambda v, p: {"count": len(v.split(",")), "limit": p["limit"]})
def max_values(series: pd.Series, *, limit: int) -> pd.Series:
    return series.str.count(",") < limit


# --- enumerations ---------------------------------------------------------


def _enum_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    allowed = list(params["allowed"])
    close = difflib.get_close_matches(_norm(value), allowed, n=1, cutoff=0.6)
    return {"allowed": ", ".join(allowed), "hint": f" Did you mean '{close[0]}'?" if close else ""}


@_rule("item.invalid_value", ("allowed", "alternatives"), hint=_enum_hint)
def one_of(series: pd.Series, *, allowed: list[str], alternatives: dict[str, str]) -> pd.Series:
    accepted = {_norm(a) for a in allowed} | {_norm(a) for a in alternatives}
    return ~_present(series) | normalise_token(series).isin(accepted)


def canonical_value(value: str, allowed: list[str], alternatives: Mapping[str, str]) -> str | None:
    """The channel's spelling of an accepted value, or ``None`` if it is not accepted.

    >>> canonical_value("In_Stock", ["in stock", "out of stock"], {})
    'in stock'
    >>> canonical_value("backorder", ["available for order"], {"backorder": "available for order"})
    'available for order'
    """
    key = _norm(value)
    by_norm = {_norm(a): a for a in allowed} | {_norm(k): v for k, v in alternatives.items()}
    return by_norm.get(key)


@_rule(
    "item.noncanonical_value",
    ("allowed", "alternatives"),
    hint=lambda v, p: {"hint": canonical_value(v, p["allowed"], p["alternatives"])},
)
def canonical_spelling(series: pd.Series, *, allowed: list[str], alternatives: dict[str, str]) -> pd.Series:
    accepted = {_norm(a) for a in allowed} | {_norm(a) for a in alternatives}
    return ~normalise_token(series).isin(accepted) | series.isin(allowed)


# --- ids ------------------------------------------------------------------

_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff\ufffd]"


def _id_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if re.search(_CONTROL, value):
        return {"hint": f"Id '{value}' contains invisible control characters; remove them from the SKU."}
    return {
        "hint": f"Id '{value}' contains spaces; ids should be letters, digits, '-' and '_' only. "
        "Replace the spaces, and send the same id in your pixel and server events."
    }


@_rule("item.id_invalid", hint=_id_hint)
def id_chars(series: pd.Series) -> pd.Series:
    return ~series.str.contains(f"[{WHITESPACE}]|{_CONTROL}", regex=True)


@_rule("item.id_suspicious")
def id_not_scientific(series: pd.Series) -> pd.Series:
    return ~series.str.fullmatch(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+")


# --- prices ---------------------------------------------------------------

PRICE_RE = r"[0-9]+(\.[0-9]+)? [A-Z]{3}"


def explain_price(value: str) -> str:
    """Say what is wrong with a price and how to write it.

    >>> explain_price("169,00 EUR")
    "Price '169,00 EUR' uses a decimal comma; write '169.00 EUR' (a dot, no thousands separators)."
    """
    v = value.strip()
    match = re.fullmatch(r"([^\d\s]{0,3})\s*([\d.,\s']+?)\s*([A-Za-z]{3})?", v)
    if re.fullmatch(r"[A-Z]{3}\s*\d+([.,]\d+)?", v):
        number, code = v[3:].strip(), v[:3]
        return f"Price '{value}' puts the currency first; write '{number.replace(',', '.')} {code}'."
    if match and match.group(1):
        return f"Price '{value}' uses a currency symbol; write the number then the ISO 4217 code, e.g. '12.50 USD'."
    if match and match.group(2):
        number, code = match.group(2).replace(" ", "").replace("'", ""), match.group(3)
        if not code:
            return f"Price '{value}' has no currency; add the ISO 4217 code, e.g. '{_fixed(number)} USD'."
        if code != code.upper():
            return f"Price '{value}' has a lower-case currency; write '{_fixed(number)} {code.upper()}'."
        if re.fullmatch(r"\d{1,3}([.,]\d{3})+([.,]\d+)?", number) and not re.fullmatch(r"\d+([.,]\d{1,2})", number):
            return f"Price '{value}' has thousands separators; write '{_fixed(number)} {code}'."
        if re.fullmatch(r"\d+,\d+", number):
            return f"Price '{value}' uses a decimal comma; write '{_fixed(number)} {code}' (a dot, no thousands separators)."
    return f"Price '{value}' is not a number followed by a currency code; write it like '12.50 USD'."


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


@_rule("item.price_invalid", hint=lambda v, p: {"hint": explain_price(v)})
def price_format(series: pd.Series) -> pd.Series:
    return ~_present(series) | series.str.fullmatch(PRICE_RE)


def _currency(series: pd.Series) -> pd.Series:
    return extract(series, r"^[0-9]+(?:\.[0-9]+)? (?P<code>[A-Z]{3})$")["code"]


@_rule("item.currency_unknown", hint=lambda v, p: {"hint": v.rsplit(" ", 1)[-1]})
def currency_code(series: pd.Series) -> pd.Series:
    def known(values: pd.Series) -> pd.Series:
        code = _currency(values)
        return (code == "") | code.isin(ISO_4217)

    return _where_present(series, known)


def _decimals_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    amount, code = value.rsplit(" ", 1)
    places = len(amount.partition(".")[2])
    allowed = MINOR_UNITS.get(code, 2)
    return {"hint": f"{places} decimal places but {code} has {allowed}"}


@_rule("item.price_decimals", hint=_decimals_hint)
def currency_decimals(series: pd.Series) -> pd.Series:
    return _where_present(series, _decimals_ok)


def _decimals_ok(series: pd.Series) -> pd.Series:
    parts = extract(series, r"^[0-9]+(?:\.(?P<decimals>[0-9]+))? (?P<code>[A-Z]{3})$")
    places = parts["decimals"].str.len().to_numpy()
    allowed = parts["code"].map(MINOR_UNITS).fillna(2).to_numpy(dtype=np.int64)
    return (parts["code"] == "") | pd.Series(places <= allowed, index=series.index) | (
        parts["decimals"].str.fullmatch("0*"))


@_rule("item.currency_mismatch", ("currency",), hint=lambda v, p: {"currency": p["currency"]})
def catalog_currency(series: pd.Series, *, currency: str) -> pd.Series:
    code = _currency(series)
    return (code == "") | (code == currency)


# --- URLs -----------------------------------------------------------------


def _url_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    v = value.strip()
    if v.lower().startswith("www."):
        return {"hint": f"'{value}' has no scheme; write 'https://{v}'."}
    if v.startswith("//"):
        return {"hint": f"'{value}' is protocol-relative; write 'https:{v}'."}
    if v.startswith("/"):
        return {"hint": f"'{value}' is a relative path; channels need the full https:// URL."}
    return {"hint": f"'{value}' is not an http:// or https:// URL; channels only fetch web links."}


@_rule("item.url_invalid", hint=_url_hint)
def http_url(series: pd.Series) -> pd.Series:
    host = f"[^/?#{WHITESPACE}]+"
    return ~_present(series) | series.str.contains(f"^[hH][tT][tT][pP][sS]?://{host}\\.{host}", regex=True)


def _ascii_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    bad = sorted({c for c in value if ord(c) > 126 or ord(c) <= 32})
    shown = ", ".join("space" if c == " " else repr(c) for c in bad[:5])
    return {"hint": shown}


@_rule("item.url_not_ascii", hint=_ascii_hint)
def url_ascii(series: pd.Series) -> pd.Series:
    return ~series.str.contains(r"[^\x21-\x7e]", regex=True)


@_rule("item.image_format", ("extensions",))
def image_extension(series: pd.Series, *, extensions: list[str]) -> pd.Series:
    pattern = r"\.(?:" + "|".join(re.escape(e) for e in extensions) + r")$"
    path = series.str.replace(r"[?#].*$", "", regex=True).str.lower()
    return ~_present(series) | path.str.contains(pattern, regex=True)


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


@_rule("item.gtin_format", hint=_gtin_format_hint)
def gtin_format(series: pd.Series) -> pd.Series:
    digits = _gtin_digits(series)
    return ~_present(series) | (digits.str.fullmatch("[0-9]+") & digits.str.len().isin(GTIN_LENGTHS))


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


@_rule("item.gtin_check_digit", hint=lambda v, p: {"hint": gtin_check_digit_of(re.sub(r"[\s-]", "", v)[:-1])})
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


@_rule("item.gtin_restricted", hint=_restricted_hint)
def gtin_prefix(series: pd.Series) -> pd.Series:
    ok, padded = _well_formed_gtins(series)
    body = padded.str.slice(1)
    restricted = body.str.match("|".join(_RESTRICTED)) & (padded.str.slice(0, 6) != "000000")
    return ~(ok & restricted.fillna(False))


# --- text hygiene ---------------------------------------------------------

_EMOJI = "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\U000e0000-\U000e007f]"
_PLACEHOLDER = r"\[object Object\]|\{\{[^}]*\}\}|\$\{[^}]*\}|^(?:undefined|null|nan|none|#n/a|#value!)$"
_HTML = r"<\s*/?\s*(?:p|br|b|i|u|strong|em|ul|ol|li|div|span|a|h[1-6]|table|tr|td|img)\b[^>]*>|&(?:nbsp|amp|lt|gt|quot);"


def _found(pattern: str, flags: int = 0) -> Hint:
    def hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
        found = re.findall(pattern, value, flags)
        return {"hint": ", ".join(dict.fromkeys(repr(f) if len(f) == 1 else f for f in found[:5]))}

    return hint


@_rule("item.control_chars", hint=_found(_CONTROL))
def no_control_chars(series: pd.Series) -> pd.Series:
    return ~series.str.contains(_CONTROL, regex=True)


@_rule("item.emoji", hint=_found(_EMOJI))
def no_emoji(series: pd.Series) -> pd.Series:
    return ~series.str.contains(_EMOJI, regex=True)


@_rule("item.placeholder_text", hint=_found(r"(?i)" + _PLACEHOLDER))
def no_placeholder(series: pd.Series) -> pd.Series:
    return ~series.str.contains(r"(?i)" + _PLACEHOLDER, regex=True)


def _promotion_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    lowered = value.lower()
    return {"hint": next((p for p in params["phrases"] if p in lowered), "")}


@_rule("item.promotional_text", ("phrases",), hint=_promotion_hint)
def no_promotion(series: pd.Series, *, phrases: list[str]) -> pd.Series:
    return ~series.str.lower().str.contains("|".join(re.escape(p) for p in phrases), regex=True)


@_rule("item.html", hint=_found(r"(?i)" + _HTML))
def no_html(series: pd.Series) -> pd.Series:
    return ~series.str.contains(r"(?i)" + _HTML, regex=True)


# --- dates ----------------------------------------------------------------

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


@_rule("item.date_invalid", hint=lambda v, p: {"problem": _date_problem(v), "hint": DATE_FORM})
def iso_date(series: pd.Series) -> pd.Series:
    def valid(values: pd.Series) -> pd.Series:
        shaped = values.str.fullmatch(_DATE)
        return shaped & _parse_dates(values.where(shaped, "")).notna()

    return _where_present(series, valid)


def _interval(series: pd.Series) -> pd.Series:
    """The end of each valid ``start/end`` value (both dates real, the end after the start); NaT elsewhere."""
    parts = extract(series, r"^(?P<start>[^/]*)/(?P<end>.*)")
    shaped = series.str.fullmatch(_DATE + "/" + _DATE)
    start = _parse_dates(parts["start"].where(shaped, ""))
    end = _parse_dates(parts["end"].where(shaped, ""))
    return end.where(shaped & start.notna() & end.notna() & (start < end))


@_rule("item.date_invalid", hint=lambda v, p: {"problem": _interval_problem(v), "hint": INTERVAL_FORM})
def date_interval(series: pd.Series) -> pd.Series:
    return _where_present(series, lambda values: _interval(values).notna())


def _expired_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"hint": "on " + value.split("/", 1)[-1][:10]}


@_rule("item.sale_expired", ("now",), hint=_expired_hint, turns=_interval)
def not_expired(series: pd.Series, *, now: str) -> pd.Series:
    """A valid sale window whose end has passed (an invalid one is ``item.date_invalid``'s alone)."""
    return _where_present(series, lambda values: ~(_interval(values) < pd.Timestamp(now)).fillna(False))


# --- rules across fields (frame checks; ``field`` names the field reported) -
# They receive their columns as Python objects (see feedcheck.rules.validate._Parts) and read each back as
# Arrow strings, for the same vectorised work as the rules on one field.


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name].astype("str")


@_rule("item.missing_conditional", ("field", "when", "values"), frame=True,
       hint=lambda v, p: {"detail": f"{p['when']} is {' or '.join(p['values'])}"})
def required_when(frame: pd.DataFrame, *, field: str, when: str, values: list[str]) -> pd.Series:
    triggered = normalise_token(_col(frame, when)).isin([_norm(v) for v in values])
    return ~(triggered & ~_present(_col(frame, field)))


def _no_identifier_claimed(frame: pd.DataFrame) -> pd.Series:
    if "identifier_exists" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return normalise_token(_col(frame, "identifier_exists")).isin(["no", "false"])


@_rule("item.missing_identifier", ("field", "mode"), frame=True,
       reads=("gtin", "mpn", "brand", "condition", "identifier_exists"),
       hint=lambda v, p: {"detail": "no GTIN, and no brand with an MPN" if p["mode"] == "gtin_or_brand_mpn"
                          else "no brand, GTIN or MPN"})
def identifiers(frame: pd.DataFrame, *, field: str, mode: str) -> pd.Series:
    gtin, mpn, brand = (_present(_col(frame, c)) for c in ("gtin", "mpn", "brand"))
    if mode == "gtin_or_brand_mpn":
        used = _col(frame, "condition").str.strip().str.lower().isin(["used", "refurbished"])
        return gtin | (brand & mpn) | _no_identifier_claimed(frame) | used
    return gtin | mpn | brand


@_rule("item.identifier_exists_conflict", ("field",), frame=True, reads=("gtin", "brand", "mpn", "identifier_exists"))
def identifier_exists_consistent(frame: pd.DataFrame, *, field: str) -> pd.Series:
    has_ids = _present(_col(frame, "gtin")) | (_present(_col(frame, "brand")) & _present(_col(frame, "mpn")))
    return ~(_no_identifier_claimed(frame) & has_ids)


@_rule("item.sale_price_above_price", ("field",), frame=True, reads=("price",),
       hint=lambda v, p: {"hint": p["_row"]["price"]})
def sale_below_price(frame: pd.DataFrame, *, field: str) -> pd.Series:
    result = pd.Series(True, index=frame.index)
    offered = _col(frame, field)
    on_sale = _present(offered).to_numpy()
    if not on_sale.any():
        return result
    pattern = r"^(?P<amount>[0-9]+(?:\.[0-9]+)?) (?P<code>[A-Z]{3})$"
    sale = extract(offered[on_sale], pattern)
    price = extract(_col(frame, "price")[on_sale], pattern)
    both = (sale["amount"] != "") & (price["amount"] != "")
    lower = pd.to_numeric(sale["amount"], errors="coerce") < pd.to_numeric(price["amount"], errors="coerce")
    result[on_sale] = (~both | (lower & (sale["code"] == price["code"])).fillna(False)).astype(bool).to_numpy()
    return result
