"""Rules on text: lengths and counts, control characters, emoji, placeholders, promotional wording, HTML."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.registry import Hint, rule
from feedcheck.rules.series import CONTROL, WHITESPACE, col

declare({
    "item.too_long": code(
        "Value too long",
        "error",
        "'{field}' has {length:,} characters; {channel} allows at most {limit:,}. Shorten it.",
    ),
    "item.longer_than_recommended": code(
        "Value longer than recommended",
        "info",  # the channel takes it: advice, not a defect
        "'{field}' has {length:,} characters; {channel} takes it, but recommends at most {limit:,} "
        "(longer text may be cut off in ads).",
    ),
    "item.too_many_values": code(
        "Too many values",
        "warning",
        "'{field}' lists {count} values; {channel} uses the first {limit} and ignores the rest.",
    ),
    "item.control_chars": code(
        "Control characters",
        "error",
        "'{field}' contains invisible control characters ({hint}); remove them.",
    ),
    "item.emoji": code(
        "Emoji in the text",
        "error",
        "'{field}' contains emoji ({hint}); {channel} rejects them. Remove them.",
    ),
    "item.placeholder_text": code(
        "Placeholder or template junk",
        "error",
        "'{field}' contains '{hint}', which is export-template junk rather than product "
        "text. Fix the export mapping for this field.",
    ),
    "item.placeholder_value": code(
        "Placeholder instead of a value",
        "warning",
        "'{field}' is '{value}', a placeholder, not the product's {field}; {channel} shows it to shoppers and "
        "matches searches on it as written. Give the real {field} (an optional field may be left empty instead).",
        sources={"google": "https://support.google.com/merchants/answer/6324487"},
    ),
    "item.promotional_text": code(
        "Promotional text",
        "warning",
        # A warning: the channels' rules forbid it, but their review decides, and a phrase can be part of a name.
        "'{field}' contains '{hint}'. {channel}'s rules forbid promotional wording in titles, and an item with it "
        "may be disapproved on review: take '{hint}' out of the title (a promotion or the ad says it).",
        sources={"tiktok": "https://ads.tiktok.com/help/article/catalog-product-parameters",
                 "google": "https://support.google.com/merchants/answer/6324415"},
    ),
    # Google's editorial requirements disapprove such titles on review; these checks cannot see its exceptions
    # (trademarks, acronyms, a brand's own '!'), so they warn.
    "item.all_caps": code(
        "Title in capitals",
        "warning",
        "'{field}' is written in capitals; {channel} does not allow excessive capitalization. Capitalize the "
        "first letter of words only.",
        sources={"google": "https://support.google.com/merchants/answer/6150244"},
    ),
    "item.gimmicky_punctuation": code(
        "Gimmicky punctuation or symbols",
        "warning",
        "'{field}' contains {hint}; {channel} does not allow exclamation marks in titles, or repeated "
        "punctuation and decorative symbols.",
        sources={"google": "https://support.google.com/merchants/answer/6150244"},
    ),
    "item.description_is_title": code(
        "Description only repeats the title",
        "warning",
        "'{field}' is the title again ('{value}'); {channel} shows the description to shoppers and matches it "
        "to searches, so say what the product is made of, its size, what it is for.",
        sources={"google": "https://support.google.com/merchants/answer/6324468"},
    ),
    "item.html": code(
        "HTML markup in plain text",
        "warning",
        "'{field}' contains HTML markup ({hint}); {channel} wants plain text.",
    ),
})


def _length_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"length": len(value)}


@rule("item.too_long", ("limit",), hint=_length_hint)
def max_length(series: pd.Series, *, limit: int) -> pd.Series:
    return series.str.len() <= limit


@rule("item.longer_than_recommended", ("limit",), hint=_length_hint)
def recommended_length(series: pd.Series, *, limit: int) -> pd.Series:
    return series.str.len() <= limit


@rule("item.too_many_values", ("limit",), hint=lambda v, p: {"count": len(v.split(",")), "limit": p["limit"]})
def max_values(series: pd.Series, *, limit: int) -> pd.Series:
    return series.str.count(",") < limit


_EMOJI = "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\U000e0000-\U000e007f]"
_PLACEHOLDER = r"\[object Object\]|\{\{[^}]*\}\}|\$\{[^}]*\}|^(?:undefined|null|nan|none|#n/a|#value!)$"
# A whole value that stands in for one the export did not have ("See product page" on 99 colours).
_PLACEHOLDER_VALUE = (r"(?i)(?:see (?:the )?(?:product page|product|page|website|site|description|details|image|"
                      r"photos?)|n/?a|n\.a\.|tbd|tba|tbc|to be (?:determined|confirmed|announced)|coming soon|"
                      r"not (?:available|applicable|specified)|unknown|placeholder|lorem ipsum.*|test|x{3,}|-+|\?+|"
                      r"\.{2,})")
_HTML = r"<\s*/?\s*(?:p|br|b|i|u|strong|em|ul|ol|li|div|span|a|h[1-6]|table|tr|td|img)\b[^>]*>|&(?:nbsp|amp|lt|gt|quot);"


def _found(pattern: str, flags: int = 0) -> Hint:
    def hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
        found = re.findall(pattern, value, flags)
        return {"hint": ", ".join(dict.fromkeys(repr(f) if len(f) == 1 else f for f in found[:5]))}

    return hint


@rule("item.control_chars", hint=_found(CONTROL))
def no_control_chars(series: pd.Series) -> pd.Series:
    return ~series.str.contains(CONTROL, regex=True)


@rule("item.emoji", hint=_found(_EMOJI))
def no_emoji(series: pd.Series) -> pd.Series:
    return ~series.str.contains(_EMOJI, regex=True)


@rule("item.placeholder_text", hint=_found(r"(?i)" + _PLACEHOLDER))
def no_placeholder(series: pd.Series) -> pd.Series:
    return ~series.str.contains(r"(?i)" + _PLACEHOLDER, regex=True)


@rule("item.placeholder_value")
def no_placeholder_value(series: pd.Series) -> pd.Series:
    return ~series.str.fullmatch(_PLACEHOLDER_VALUE)


def _promotion_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    lowered = value.lower()
    return {"hint": next((p for p in params["phrases"] if p in lowered), "")}


@rule("item.promotional_text", ("phrases",), hint=_promotion_hint)
def no_promotion(series: pd.Series, *, phrases: list[str]) -> pd.Series:
    return ~series.str.lower().str.contains("|".join(re.escape(p) for p in phrases), regex=True)


@rule("item.html", hint=_found(r"(?i)" + _HTML))
def no_html(series: pd.Series) -> pd.Series:
    return ~series.str.contains(r"(?i)" + _HTML, regex=True)


_LETTERS = r"\p{L}"  # a letter, in any script (Arrow's regular expressions, run on the whole column)


@rule("item.all_caps")
def not_all_caps(series: pd.Series) -> pd.Series:
    """At least three words and twelve letters, and no lower-case letter among them."""
    letters = series.str.count(_LETTERS)
    words = series.str.count(f"{_LETTERS}{{2,}}")
    return ~((words >= 3) & (letters >= 12) & (series == series.str.upper()) & (series != series.str.lower()))


# An exclamation mark, a run of symbols ($$$, ??, **), or a decorative symbol; ellipses, double dashes and a
# single asterisk ("5* service") are allowed.
_GIMMICK = "!+|[?$*#~^=+@]{2,}|[\u2605\u2606\u2714\u2716\u27a4\u2794\u25ba\u261b\u261e]"


@rule("item.gimmicky_punctuation", hint=_found(_GIMMICK))
def no_gimmicks(series: pd.Series) -> pd.Series:
    return ~series.str.contains(_GIMMICK, regex=True)


@rule("item.description_is_title", ("field",), frame=True, reads=("title",))
def description_not_title(frame: pd.DataFrame, *, field: str) -> pd.Series:
    """The description (``field``) says more than the title: it is not the title again, whatever the case or
    the spaces."""
    description, title = col(frame, field), col(frame, "title").str.casefold()
    # Case folding only adds characters and folding spaces only removes spaces: a description with more other
    # characters than the folded title cannot be it, so only the few that might be are folded.
    maybe = (_solid(description) <= _solid(title)).to_numpy() & (description != "").to_numpy()
    same = np.zeros(len(frame), dtype=bool)
    if maybe.any():
        folded = _fold(description[maybe].str.casefold())
        same[maybe] = ((folded != "") & (folded == _fold(title[maybe]))).to_numpy()
    return pd.Series(~same, index=frame.index)


def _solid(series: pd.Series) -> pd.Series:
    """The characters of each value that are not spaces.  Plain spaces go first, with a literal replace: a
    pattern that matches at every space costs twice as much."""
    unspaced = series.str.replace(" ", "", regex=False)
    return unspaced.str.len() - unspaced.str.count(f"[{WHITESPACE}]")


def _fold(folded: pd.Series) -> pd.Series:
    """Case-folded values with their spaces trimmed and each run of spaces made one."""
    return folded.str.strip().str.replace(f"[{WHITESPACE}]+", " ", regex=True)
