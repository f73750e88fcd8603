"""The finding codes of the channels' rules on each item (the checks in :mod:`feedcheck.rules.checks`)."""

from feedcheck.findings import code, declare

declare({
    # Items.
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
    ),
    "item.identifier_exists_conflict": code(
        "identifier_exists says no, but identifiers are present",
        "warning",
        "identifier_exists is '{value}' but the item has a GTIN or brand and MPN. Remove "
        "identifier_exists, or the identifiers.",
    ),
    "item.too_long": code(
        "Value too long",
        "error",
        "'{field}' has {length} characters; {channel} allows at most {limit}. Shorten it.",
    ),
    "item.longer_than_recommended": code(
        "Value longer than recommended",
        "warning",
        "'{field}' has {length} characters; {channel} recommends at most {limit} "
        "(longer text may be cut off in ads).",
    ),
    "item.invalid_value": code(
        "Value not allowed",
        "error",
        "'{value}' is not a valid {field}. Allowed: {allowed}.{hint}",
    ),
    "item.noncanonical_value": code(
        "Alternative spelling",
        "warning",
        "'{value}' is accepted for {field}, but {channel}'s spelling is '{hint}'; the cleaned "
        "catalog uses it. Change the export to avoid surprises on other channels.",
    ),
    "item.id_invalid": code("Unusable id", "error", "{hint}"),
    "item.id_suspicious": code(
        "Id looks mangled by a spreadsheet",
        "warning",
        "Id '{value}' looks like a number a spreadsheet rewrote in scientific notation; the "
        "original SKU is lost. Export ids as text.",
    ),
    "item.duplicate_id": code(
        "Duplicate id",
        "error",
        "Id '{value}' is also used on row {hint}; {channel} keeps only one of them. "
        "Give every item its own id.",
    ),
    "item.price_invalid": code("Price not in '12.50 USD' form", "error", "{hint}"),
    "item.price_rewritten": code(
        "Price rewritten",
        "warning",
        "'{field}' is '{value}', which can be read only as '{hint}'; the cleaned catalog writes '{hint}'. "
        "Fix the export: the channel itself would reject the original.",
    ),
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
    "item.date_invalid": code(
        "Date not in ISO 8601 form",
        "error",
        "'{value}' is not a valid {field}: {problem}. Write it as {hint}.",
    ),
    "item.sale_expired": code(
        "Sale period over",
        "warning",
        "The sale period '{value}' ended {hint}; the sale price no longer applies. Update "
        "or remove it.",
    ),
    "item.url_invalid": code("Not an http(s) URL", "error", "{hint}"),
    "item.url_not_ascii": code(
        "URL with spaces or non-ASCII characters",
        "warning",
        "{field} '{value}' contains characters that must be percent-encoded ({hint}).",
    ),
    "item.image_format": code(
        "Image link not .jpg, .jpeg or .png",
        "warning",
        "{channel} flags image links that do not end in .jpg, .jpeg or .png: '{value}'.",
    ),
    "item.too_many_values": code(
        "Too many values",
        "warning",
        "'{field}' lists {count} values; {channel} uses the first {limit} and ignores the rest.",
    ),
    "item.gtin_format": code("GTIN not 8, 12, 13 or 14 digits", "error", "{hint}"),
    "item.gtin_check_digit": code(
        "GTIN check digit wrong",
        "error",
        "GTIN '{value}' fails the GS1 check digit (expected {hint}). It is mistyped or "
        "invented; copy it from the packaging or leave it empty.",
    ),
    "item.gtin_restricted": code(
        "GTIN with a restricted or coupon prefix",
        "error",
        "GTIN '{value}' {hint}; channels do not accept it as a product identifier.",
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
    "item.promotional_text": code(
        "Promotional text",
        "warning",
        "'{field}' contains '{hint}'; {channel} rejects promotional wording in titles.",
    ),
    "item.html": code(
        "HTML markup in plain text",
        "warning",
        "'{field}' contains HTML markup ({hint}); {channel} wants plain text.",
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
