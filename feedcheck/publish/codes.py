"""The finding codes of the quality gate, publishing and the run history."""

from feedcheck.findings import code, declare

declare({
    # The quality gate and publishing.
    "gate.fatal": code(
        "Nothing to publish",
        "error",
        "The feed could not be read, so nothing was published; {kept}.",
    ),
    "gate.no_items": code(
        "No valid items",
        "error",
        "None of the feed's {value} items passed the channel's rules; publishing would empty the catalog, "
        "so nothing was published; {kept}.",
    ),
    "gate.item_drop": code(
        "Valid items dropped",
        "error",
        "Valid items fell from {previous:,} to {items:,} ({drop:.0%}, more than the {limit:.0%} allowed); a truncated "
        "export or fetch is the usual cause. The last good catalog stays in place; if the drop is real, "
        "run again with --accept-drop.",
    ),
    "gate.error_share": code(
        "Too many items with errors",
        "error",
        "{share:.0%} of the items have errors (more than the {limit:.0%} allowed), so nothing was published; {kept}. "
        "Fix the export, or run again with --accept-drop to publish the valid items anyway.",
    ),
    "gate.no_baseline": code(
        "No readable manifest to compare with",
        "error",
        "Catalogs were published here before, but no manifest can be read, so the drop in valid items cannot be "
        "checked; nothing was published and the published files stay. Run again with --accept-drop to publish.",
    ),
    "gate.override": code("Published despite the gate", "warning", "--accept-drop: published anyway. {detail}"),
    "publish.published": code("Catalog published", "info", "Published {items:,} items to {value} (version {hint})."),
    "publish.unchanged": code("Nothing new to publish", "info", "{detail}"),
    "publish.manifest_unreadable": code(
        "Published manifest unreadable",
        "warning",
        "{detail} The gate has no previous item count to compare with; the next publish writes a new manifest.",
    ),
    "publish.failed": code(
        "Destination failed",
        "error",
        "Publishing to {value} failed: {detail} Nothing was made current there; the catalog it served stays. "
        "The next run publishes again.",
    ),
    "publish.incomplete": code(
        "Publish not finished",
        "warning",
        "Publishing to {value} did not finish: {detail}. The next run finishes it.",
    ),
    "publish.repaired": code(
        "Half-made publish finished",
        "warning",
        "A run stopped after replacing the catalog but before its manifest; {value} was made version {hint}'s, "
        "the catalog's.",
    ),
    "publish.no_atomic_rename": code(
        "Catalog briefly missing on the SFTP server",
        "warning",
        "{value} does not offer the posix-rename extension, so the catalog was replaced by moving the old file "
        "aside first: for a moment there was no file to fetch. Use a server that offers it (OpenSSH does).",
    ),
    "publish.reports_failed": code(
        "Reports not published",
        "warning",
        "The reports could not be published beside the catalog at {value}: {detail} They are in the run's "
        "local folder; the next run publishes its own.",
    ),
    "publish.layout": code("Output folder not as feedcheck left it", "warning", "{detail}"),
    "publish.column_skipped": code("Column left out of the XML catalog", "warning", "{detail}"),
    "publish.formula_value": code(
        "Value a spreadsheet would run as a formula",
        "warning",
        "'{field}' starts with a character a spreadsheet treats as a formula; the catalog keeps it as it is "
        "(the channel reads it as text), but do not open the file in a spreadsheet and save it again.",
    ),
    "history.unreadable": code("Run history unreadable", "warning", "{detail}"),
})
