"""RSS 2.0 catalogs with Google's ``g:`` elements, as Google Merchant Center, Meta and TikTok fetch them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lxml import etree

from feedcheck.findings import FindingLog, make_finding
from feedcheck.readers.fields import GOOGLE_NS

if TYPE_CHECKING:
    from feedcheck.publish.clean import CatalogSpool

_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def write_rss(spool: CatalogSpool, path: Path, names: dict[str, str], log: FindingLog) -> None:
    """Items under their canonical names as ``g:`` elements (the channels' own names are for delimited files)."""
    with path.open("wb") as sink:
        _write_rss(spool, sink, log)


def _write_rss(spool: CatalogSpool, sink: BinaryIO, log: FindingLog) -> None:
    g = f"{{{GOOGLE_NS}}}"
    columns = [c for c in spool.columns if _XML_NAME.match(c)]
    for column in sorted(set(spool.columns) - set(columns)):
        log.add(make_finding("publish.column_skipped", field=column, detail=f"'{column}' cannot be an XML element "
                             "name, so the XML catalog leaves it out; rename the column, or publish CSV."))
    with etree.xmlfile(sink, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element("rss", version="2.0", nsmap={"g": GOOGLE_NS}):
            with xf.element("channel"):
                for tag, text in (("title", "Cleaned catalog"), ("link", "https://example.invalid/"),
                                  ("description", "Items that passed feedcheck's channel rules")):
                    element = etree.Element(tag)
                    element.text = text
                    xf.write(element)
                for chunk in spool.chunks():
                    for values in chunk.itertuples(index=False, name=None):
                        item = etree.Element("item", nsmap={"g": GOOGLE_NS})
                        for column, value in zip(spool.columns, values):
                            if value and column in columns:
                                etree.SubElement(item, g + column).text = _xml_text(value)
                        xf.write(item)


def _xml_text(value: str) -> str:
    """Only the characters XML 1.0 allows; the rest would make the file unreadable."""
    return _XML_ILLEGAL.sub("", value)
