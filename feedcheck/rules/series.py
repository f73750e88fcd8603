"""Vectorised helpers the rules share: whitespace, tokens, pattern groups, and running a check on present values."""

from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Python's ``\s`` spelt out: pandas hands a pattern with ``\s``, ``\u`` escapes or (on non-ASCII
# text) ``\d`` to Python's ``re`` one value at a time, where the same rule as a literal class runs in
# Arrow's vectorised engine.  Digits are written ``[0-9]`` for the same reason: channels read
# ASCII digits only.
WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
ASCII_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"  # what str.strip() removes from ASCII text, as characters to trim


def normalise_token(series: pd.Series) -> pd.Series:
    """Lower-case, spaces for ``_``/``-``, single spaces: how enums are compared.

    Worked out once per distinct value (enumerated fields repeat a handful of
    values item after item), and taken back to the rows.
    """
    codes, distinct = pd.factorize(series)
    normalised = pd.Series(distinct, dtype="str").str.strip().str.lower().str.replace(
        f"[{WHITESPACE}_-]+", " ", regex=True)
    return pd.Series(normalised.array.take(codes), index=series.index)


def norm(value: str) -> str:
    """One value as :func:`normalise_token` compares it."""
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


def present(series: pd.Series) -> pd.Series:
    """Which values are not empty."""
    return series.str.len() > 0


def where_present(series: pd.Series, check: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Run a costly check on the non-empty values only; empty values pass.

    Optional fields are empty in most feeds, and parsing dates or prices of
    empty strings would dominate the run.
    """
    filled = present(series).to_numpy()
    result = pd.Series(True, index=series.index)
    if filled.any():
        result[filled] = check(series[filled]).fillna(False).astype(bool).to_numpy()
    return result


def each_distinct(series: pd.Series, accept: Callable[[str], bool]) -> pd.Series:
    """Run a check written for one value (a shipping group, a category) once per distinct non-empty value;
    empty values pass.  Feeds repeat such values item after item, so the Python work is per distinct value,
    and the verdicts reach the rows through Arrow's ``is_in``."""
    accepted = [value for value in series.unique() if not value or accept(value)]
    return series.isin(accepted)


# Characters no channel shows: C0 and C1 controls, zero-width and direction marks, BOM, U+FFFD.
CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff\ufffd]"


def col(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column a rule across fields reads, as Arrow strings."""
    return frame[name].astype("str")
