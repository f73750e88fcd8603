"""The finding codes of getting a source's bytes and decoding them into text."""

from feedcheck.findings import code, declare

declare({
    # Fetching the source.  All fatal: there is nothing to check.
    "fetch.not_found": code("Source not found", "error", "{detail}", True),
    "fetch.failed": code("Source could not be fetched", "error", "{detail}", True),
    "fetch.status": code("Server answered with an error", "error", "{detail}", True),
    "fetch.timeout": code("Fetch took too long", "error", "{detail}", True),
    "fetch.too_large": code("Source larger than the size cap", "error", "{detail}", True),
    "fetch.too_many_redirects": code("Too many redirects", "error", "{detail}", True),
    "fetch.blocked": code("Address or scheme not allowed", "error", "{detail}", True),
    "fetch.unchanged": code("Source unchanged since last check", "info", "{detail}"),
    # Decoding bytes into text.
    "decode.too_large": code("Decompressed size over the cap", "error", "{detail}", True),
    "decode.bad_gzip": code("Corrupt or truncated gzip", "error", "{detail}", True),
    "decode.bom": code(
        "Byte-order mark at the start",
        "warning",
        "The file starts with a {detail} byte-order mark. feedcheck ignores it, but some "
        "ingesters read it as part of the first column name; save the file without a BOM.",
    ),
    "decode.fallback_cp1252": code(
        "Not UTF-8; read as Windows-1252",
        "warning",
        "The file is not valid UTF-8 and declares no encoding, so it was read as "
        "Windows-1252. Check accented characters in the findings, then re-save the feed as UTF-8.",
    ),
    "decode.latin1_as_cp1252": code(
        "Latin-1 label read as Windows-1252",
        "info",
        "The feed says it is {detail}; like browsers, feedcheck reads that as Windows-1252 "
        "so that €, smart quotes and dashes come out right. UTF-8 is safer for every channel.",
    ),
    "decode.invalid_bytes": code(
        "Bytes that are not valid text",
        "error",
        "{detail} Such characters reach the channel as garbage; re-save the feed as UTF-8.",
    ),
})
