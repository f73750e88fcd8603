"""The finding codes of purchase-event logs and of reconciling their content ids with the catalog."""

from feedcheck.findings import code, declare

declare({
    # Purchase-event logs (item_id is the event id, or file:line when there is none).
    "events.file_unreadable": code("Event log could not be read", "error", "{detail}"),
    "events.empty_file": code("Empty event log", "warning", "{detail}"),
    "events.not_json": code(
        "Line is not JSON",
        "error",
        "Not JSON ({detail}); the line was skipped. Look at how the log is written: "
        "one JSON object per line, or a JSON array of objects.",
    ),
    "events.not_json_file": code("Event log is not JSON", "error", "{detail}"),
    "events.too_large": code("Event record over the size cap", "error", "{detail}"),
    "events.unknown_shape": code(
        "Record is not an event feedcheck recognises",
        "error",
        "{detail} Map your log's fields with --field, e.g. --field event_id=properties.eventId.",
    ),
    "events.no_events": code("No events", "error", "{detail}"),
    "events.missing_event_name": code(
        "Event without a name", "error", "The event has no 'event' name; the platform drops it."
    ),
    "events.legacy_name": code(
        "Legacy event name",
        "warning",
        "'{value}' is a legacy TikTok event name, used by {count} event(s); send '{hint}' instead. "
        "TikTok still converts it, but reports and rules use the new name.",
    ),
    "events.name_case": code(
        "Standard event name in the wrong case",
        "warning",
        "'{value}' ({count} event(s)) is not TikTok's standard '{hint}': event names are case-sensitive, so it "
        "may count as a custom event and not for catalog ads. Send '{hint}'.",
    ),
    "events.missing_event_id": code(
        "Event without event_id",
        "warning",
        "{event} has no event_id, so the platform cannot deduplicate it against the same event "
        "from the pixel or the server; send the order id (purchases) or a per-action id.",
    ),
    "events.event_id_placeholder": code(
        "event_id is a placeholder",
        "error",
        "event_id '{value}' is a placeholder, not an id: every event with it looks like the same "
        "event and all but the first are dropped. Fix the tag that fills it.",
    ),
    "events.duplicate": code(
        "Duplicate event",
        "warning",
        "{event} with event_id '{item_id}' was already seen {hint}; the platform keeps only the first "
        "within {window}{doubled:money| (% would otherwise be counted twice)}.",
    ),
    "events.duplicate_outside_window": code(
        "Same event_id outside the deduplication window",
        "warning",
        "{event} with event_id '{item_id}' repeats {hours:,.0f} h after {hint}, outside the {window} "
        "deduplication window, so the platform counts it twice{doubled:money| (% twice)}. Use ids that are unique "
        "per action.",
    ),
    "events.order_counted_twice": code(
        "Order reported by two events",
        "error",
        "Order '{value}' is reported by {event} events with different event_ids ('{hint}' and "
        "'{item_id}'), so the platform counts it twice{doubled:money| (% twice)}. Send the order id as event_id from "
        "both the pixel and the server.",
    ),
    "events.missing_contents": code(
        "Catalog event without contents",
        "error",
        "{event} has no contents or content_id, so catalog ads cannot tie it to a product. "
        "Send contents: [{{content_id, content_type, quantity, price}}].",
    ),
    "events.missing_content_id": code(
        "Content without content_id",
        "error",
        "{field} is empty: the platform reports \"content ID received with no value\" and "
        "cannot match the product.",
    ),
    "events.content_id_not_string": code(
        "content_id is not a string",
        "error",
        "{field} is the {hint} {value}; TikTok rejects it (\"Not a valid string\"). Send \"{value}\" "
        "as a string.",
    ),
    "events.content_type_invalid": code(
        "content_type not product or product_group",
        "error",
        "{field} is '{value}'; it must be 'product' (content_id is an item id) or 'product_group' "
        "(content_id is an item_group_id).",
    ),
    "events.quantity_invalid": code(
        "Quantity not a whole number ≥ 1", "warning", "{field} is {value}; send a whole number of at least 1."
    ),
    "events.price_invalid": code(
        "Content price not a number",
        "error",
        "{field} is {value}; send the unit price as a number (TikTok answers \"Invalid Price Field\").",
    ),
    "events.missing_value": code(
        "Event without value",
        "error",
        "{event} has no value{hint}; the platform cannot report revenue or optimise for it. "
        "Send the order total as a number.",
    ),
    "events.value_invalid": code(
        "Invalid value",
        "error",
        "{event} value {value} {hint}. Send the amount as a JSON number with a dot for decimals, such as 24.5; "
        "the platform does not count a value it cannot read as revenue.",
    ),
    "events.missing_currency": code(
        "Event without currency",
        "error",
        "{event} has no currency{hint}. Send an ISO 4217 code such as USD.",
    ),
    "events.currency_invalid": code(
        "Currency not an ISO 4217 code", "error", "Currency '{value}' is not an ISO 4217 code{hint}."
    ),
    "events.currency_not_accepted": code(
        "Currency TikTok does not accept",
        "error",
        "Currency '{value}' is ISO 4217 but not in TikTok's list of event currencies; convert the "
        "value to a currency TikTok accepts.",
    ),
    "events.value_mismatch": code(
        "value differs from Σ price × quantity",
        "warning",
        "{event} value {value} but its contents add up to {total:,.2f}; value should be the order total.",
    ),
    "events.currency_mismatch": code(
        "Event currency differs from the catalog's",
        "warning",
        "{event} is in {value} but the catalog prices '{field}' in {hint}; a hard-coded currency "
        "in the tag is the usual cause.",
    ),
    "events.time_invalid": code(
        "Unreadable event time",
        "warning",
        "Event time {value} is neither unix seconds nor ISO 8601; deduplication treats the event "
        "as recent.",
    ),
    # Reconciling event content_ids with the catalog (item_id is the content_id).
    "match.not_in_catalog": code(
        "content_id not in the catalog",
        "error",
        "content_id '{value}' ({events} event(s){revenue:money|, % in purchases}) "
        "is not in the catalog at all: the product is "
        "missing from the feed, or the site sends another kind of id.",
    ),
    "match.case_or_whitespace": code(
        "content_id differs only in case or spaces",
        "error",
        "content_id '{value}' ({events} event(s){revenue:money|, % in purchases}) "
        "matches catalog id '{hint}' only after "
        "trimming or ignoring case; ids must match exactly.",
    ),
    "match.id_format": code(
        "content_id in another id format",
        "error",
        "content_id '{value}' ({events} event(s){revenue:money|, % in purchases}) "
        "matches catalog id '{hint}' after removing "
        "{detail}; send the catalog's id, or change the feed's ids to the site's.",
    ),
    "match.group_id": code(
        "content_id is an item_group_id",
        "error",
        "content_id '{value}' ({events} event(s){revenue:money|, % in purchases}) "
        "is an item_group_id, but content_type is "
        "not 'product_group'; send the variant's id, or content_type 'product_group'.",
    ),
    "match.item_id_as_group": code(
        "product_group content_id is an item id",
        "error",
        "content_id '{value}' ({events} event(s){revenue:money|, % in purchases}) "
        "is an item id, but content_type is "
        "'product_group', which must name an item_group_id; send content_type 'product'.",
    ),
    "match.excluded": code(
        "content_id excluded from the catalog",
        "error",
        "content_id '{value}' ({events} event(s){revenue:money|, % in purchases}) "
        "is in the feed, but the item has error "
        "findings, so the channel rejects it; fix the item (see its findings).",
    ),
    "match.out_of_stock": code(
        "Events for an out-of-stock item",
        "info",
        "content_id '{value}' matches an item marked '{hint}' that still gets {events} event(s).",
    ),
    "match.rate_low": code(
        "Low catalog match rate",
        "warning",
        "{event}: {rate:.1%} of {events} event(s) match the catalog. {detail}",
    ),
})
