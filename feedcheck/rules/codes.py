"""The finding codes of validation itself, which no single rule raises: values trimmed, prices rewritten,
unknown or absent fields.  Each rule's code is declared beside it, in its family's module."""

from feedcheck.findings import code, declare

declare({
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
