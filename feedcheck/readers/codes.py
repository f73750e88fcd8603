"""The finding codes of recognising a feed's format and reading its rows."""

from feedcheck.findings import code, declare

declare({
    # Recognising the format.
    "feed.empty_file": code("Empty file", "error", "{detail}", True),
    "feed.html": code("HTML page instead of a feed", "error", "{detail}", True),
    "feed.sitemap": code("Sitemap instead of a feed", "error", "{detail}", True),
    "feed.unknown_format": code("Not a feed format feedcheck knows", "error", "{detail}", True),
    "feed.no_items": code(
        "No items",
        "error",
        "The feed has no items. A channel that replaces the catalog with this file deletes "
        "every product; check the export before it is fetched.",
    ),
    "feed.missing_column": code(
        "Required field absent from the feed",
        "error",
        "No column or element '{field}' in the feed; the channel requires it for every item. "
        "Add it to the export.",
    ),
    "feed.unknown_field": code(
        "Field the channel does not use",
        "info",
        "'{field}' is not a {channel} catalog field; the channel ignores it.",
    ),
    "feed.currency_assumed": code(
        "Catalog currency assumed",
        "info",
        "No catalog currency was given, so {value} (the most common price currency in the "
        "first items) is assumed. Pass --currency to state it.",
    ),
    "feed.unprefixed_element": code(
        "Google attribute without the g: namespace",
        "error",
        "{detail}",
    ),
    "xml.unescaped_html": code(
        "HTML elements not escaped in the XML",
        "warning",
        "{count:,} item(s) have HTML elements written straight into <{field}> (such as <p> or <br>), not escaped "
        "or in CDATA; channels read such an element as XML, not as text, and may drop it or refuse the item. "
        "feedcheck read its text with the line breaks kept. Wrap the HTML in <![CDATA[ … ]]>, or escape it.",
    ),
    "feed.read_whole": code(
        "Feed read in one process, not in parts on the cluster",
        "info",
        "The cluster's workers did not read this feed in parts: {why}. It was checked all the same, in the "
        "process that runs the check; only the speed-up was lost.",
    ),
    "xml.dtd_forbidden": code("DOCTYPE or entity declarations", "error", "{detail}", True),
    "xml.syntax": code("XML is not well-formed", "error", "{detail}", True),
    "csv.no_header": code("No header row", "error", "{detail}", True),
    "csv.too_many_columns": code("Too many columns", "error", "{detail}", True),
    "csv.line_too_long": code("Line too long for a feed's row", "error", "{detail}", True),
    "csv.malformed": code("Delimited text that cannot be parsed", "error", "{detail}", True),
    "csv.duplicate_header": code(
        "Column named twice",
        "warning",
        "'{field}' is a column name more than once ({detail}); feedcheck reads the first. "
        "Remove or rename the others: channels differ in which one they keep.",
    ),
    "csv.ragged_row": code(
        "Row with too many cells",
        "error",
        "{detail} The row was skipped. Usually an unquoted delimiter inside a value: quote "
        "the value or remove the delimiter.",
    ),
    "csv.template_row": code(
        "Template guidance row",
        "warning",
        "Row {row} is a guidance row from TikTok's CSV template ('{value}'); it was skipped. "
        "Delete it from the file.",
    ),
})
