"""Rules on links: http(s), ASCII, and image types."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from feedcheck.findings import code, declare
from feedcheck.rules.registry import rule
from feedcheck.rules.series import WHITESPACE, extract, present

declare({
    "item.url_invalid": code("Not an http(s) URL", "error", "{field} {hint}"),
    "item.url_not_ascii": code(
        "URL with spaces or non-ASCII characters",
        "warning",
        "{field} '{value}' contains characters that must be percent-encoded ({hint}).",
    ),
    "item.image_type_rejected": code(
        "Image of a type the channel does not take",
        "error",
        "{field} '{value}' is a .{hint} file; {channel} takes {accepted} images (a link without an extension "
        "is fine).",
        sources={"google": "https://support.google.com/merchants/answer/6324350"},
    ),
    "item.image_format": code(
        "Image link not .jpg, .jpeg or .png",
        "warning",
        "{field} '{value}' does not end in .jpg, .jpeg or .png, which {channel} flags as an invalid image link; "
        "link the image file itself.",
        sources={"tiktok": "https://ads.tiktok.com/help/article/list-of-catalog-product-issues-and-suggested-actions"},
    ),
})


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


@rule("item.url_invalid", hint=_url_hint)
def http_url(series: pd.Series) -> pd.Series:
    host = f"[^/?#{WHITESPACE}]+"
    return ~present(series) | series.str.contains(f"^[hH][tT][tT][pP][sS]?://{host}\\.{host}", regex=True)


def _ascii_hint(value: str, params: Mapping[str, Any]) -> dict[str, Any]:
    bad = sorted({c for c in value if ord(c) > 126 or ord(c) <= 32})
    shown = ", ".join("space" if c == " " else repr(c) for c in bad[:5])
    return {"hint": shown}


@rule("item.url_not_ascii", hint=_ascii_hint)
def url_ascii(series: pd.Series) -> pd.Series:
    return ~series.str.contains(r"[^\x21-\x7e]", regex=True)


@rule("item.image_format", ("extensions",))
def image_extension(series: pd.Series, *, extensions: list[str]) -> pd.Series:
    pattern = r"\.(?:" + "|".join(re.escape(e) for e in extensions) + r")$"
    path = series.str.replace(r"[?#].*$", "", regex=True).str.lower()
    return ~present(series) | path.str.contains(pattern, regex=True)


def _extension(series: pd.Series) -> pd.Series:
    """The extension of each URL's last path segment, lower-case; ``""`` where it has none."""
    path = series.str.replace(r"[?#].*$", "", regex=True).str.replace(r"^[a-zA-Z]+://[^/]*", "", regex=True)
    return extract(path, r"\.(?P<extension>[A-Za-z0-9]{1,5})$")["extension"].str.lower()


@rule("item.image_type_rejected", ("rejected", "accepted"),
      hint=lambda v, p: {"hint": _extension(pd.Series([v], dtype="str"))[0], "accepted": p["accepted"]})
def image_type(series: pd.Series, *, rejected: list[str], accepted: str) -> pd.Series:
    """No image link names a type the channel is known to refuse (the others, and no extension, pass)."""
    return ~present(series) | ~_extension(series).isin(rejected)
