"""The finding codes of validation itself, which no single rule raises: values trimmed, prices rewritten,
duplicate ids, unknown or absent fields.  Each rule's code is declared beside it, in its family's module."""

from feedcheck.findings import code, declare

declare({
    "item.duplicate_id": code(
        "Duplicate id",
        "error",
        "Id '{value}' is also used on row {first_row:,}; {channel} keeps only one of them. "
        "Give every item its own id.",
    ),
    "item.price_rewritten": code(
        "Price rewritten",
        "warning",
        "'{field}' is '{value}', which can be read only as '{hint}'; the cleaned catalog writes '{hint}'. "
        "Fix the export: the channel itself would reject the original.",
    ),
    "item.whitespace_trimmed": code(
        "Surrounding whitespace",
        "info",
        "'{field}' had leading or trailing whitespace, which was trimmed.",
    ),
    "item.id_whitespace": code(
        "Id with surrounding whitespace",
        "warning",
        "Id '{value}' has leading or trailing whitespace; it was trimmed, but events that "
        "send the trimmed id will not match a catalog that keeps the spaces.",
    ),
})
