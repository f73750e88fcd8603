"""Hostile and broken feeds, each with the fatal finding it must end in and the child's time and memory budget.

Each case writes its input under a folder (or serves it from the test's HTTP
server on 127.0.0.1) and returns the source to check.  Budgets are generous:
they catch a defence that is gone (gigabytes, minutes), not a slow machine.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.conftest import FIXTURES, FeedServer, send

SECRET = "SENTINEL-7d2e-local-file-contents"
RSS_OPEN = '<?xml version="1.0"?>\n<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel>'
RSS_CLOSE = "</channel></rss>\n"
BOMB_BYTES = 256 << 20  # what a gzip bomb expands to: minutes of reading, were it read
ITEM = "<item><g:id>A-{n}</g:id><g:title>Shirt {n}</g:title><g:price>10.00 USD</g:price></item>"


@dataclass(frozen=True)
class Case:
    """One hostile input and what must come of it."""

    name: str
    make: Callable[[Path, FeedServer], str]
    code: str  # the fatal finding's code
    seconds: float = 30.0  # the child's wall time, interpreter start and imports included
    mib: float = 200.0  # the child's peak RSS over that of a child that checks a tiny feed
    deadline: float | None = None  # the download's limit (--timeout), for servers that stall
    absent: tuple[str, ...] = field(default=())  # text that must appear in no report, log or message
    unrequested: tuple[str, ...] = field(default=())  # server routes (last part) that must never be asked for


def _route(folder: Path, server: FeedServer, path: str, handler: Callable[[BaseHTTPRequestHandler], None]) -> str:
    """Serve ``handler`` at ``/<folder name>/<path>``, so that cases sharing one server keep their own routes."""
    route = f"/{folder.name}/{path}"
    server.routes[route] = handler
    return server.url(route)


def _write(folder: Path, name: str, data: bytes | str) -> str:
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def _secret_file(folder: Path) -> Path:
    path = folder / "secret.txt"
    path.write_text(SECRET)
    return path


def _rss(*body: str) -> str:
    return RSS_OPEN + "".join(body) + RSS_CLOSE


@functools.lru_cache(maxsize=2)
def _bomb(head: bytes, unit: bytes, size: int) -> bytes:
    """``head``, then ``unit`` repeated to ``size`` bytes, gzipped: about a thousandth of the size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = unit * ((1 << 20) // len(unit))
    parts = [packer.compress(head)] + [packer.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, packer.flush()])


def _gzip_of_rows(size: int) -> bytes:
    return _bomb(b"id,title,price\n", b"A-1,Shirt,10.00 USD\n", size)


def billion_laughs(folder: Path, server: FeedServer) -> str:
    return str(FIXTURES / "hostile" / "billion_laughs.xml")


def quadratic_blowup(folder: Path, server: FeedServer) -> str:
    entity = "A" * 50_000
    return _write(folder, "quadratic.xml", f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{entity}">]>'
                  + RSS_OPEN.split("\n", 1)[1] + "<item><g:title>" + "&a;" * 2_000 + "</g:title></item>"
                  + RSS_CLOSE)


def external_entity(folder: Path, server: FeedServer) -> str:
    secret = _secret_file(folder)
    return _write(folder, "xxe.xml", f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>'
                  + RSS_OPEN.split("\n", 1)[1] + "<item><g:id>A-1</g:id><g:title>&x;</g:title></item>" + RSS_CLOSE)


def parameter_entity(folder: Path, server: FeedServer) -> str:
    secret = _secret_file(folder)
    return _write(folder, "xxe-parameter.xml", f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM '
                  f'"file://{secret}"> %p;]>' + RSS_OPEN.split("\n", 1)[1] + ITEM.format(n=1) + RSS_CLOSE)


def external_dtd(folder: Path, server: FeedServer) -> str:
    dtd = _route(folder, server, "evil.dtd", lambda h: send(h, 200, b'<!ENTITY title "pwned">'))
    return _write(folder, "external-dtd.xml", f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd}">'
                  + RSS_OPEN.split("\n", 1)[1] + ITEM.format(n=1) + RSS_CLOSE)


def huge_text_node(folder: Path, server: FeedServer) -> str:
    return _write(folder, "huge-text.xml", _rss(ITEM.format(n=1), "<item><g:id>A-2</g:id><g:description>"
                                                + "x" * (12 << 20) + "</g:description></item>"))


def deep_nesting(folder: Path, server: FeedServer) -> str:
    """Deeper than libxml2's 256 levels, yet within the 2,048 that ``huge_tree`` would allow: the parser must
    keep its default guard (100,000 levels are refused even with ``huge_tree``, and would prove less)."""
    return _write(folder, "deep.xml", _rss("<item><g:id>A-1</g:id>" + "<x>" * 1_000 + "</x>" * 1_000 + "</item>"))


def truncated_feed(folder: Path, server: FeedServer) -> str:
    whole = _rss(*(ITEM.format(n=n) for n in range(1, 200)))
    return _write(folder, "truncated.xml", whole[: len(whole) // 2])


def sitemap(folder: Path, server: FeedServer) -> str:
    return _write(folder, "sitemap.xml", '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                  'sitemap/0.9"><url><loc>https://shop.example/p/1</loc></url></urlset>')


def html_page(folder: Path, server: FeedServer) -> str:
    return _write(folder, "feed.xml", "<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
                  "<form action=/login><input name=password type=password></form></body></html>")


def login_page_over_http(folder: Path, server: FeedServer) -> str:
    page = b"<!DOCTYPE html><html><body><h1>Please sign in</h1></body></html>"
    return _route(folder, server, "feed.xml", lambda h: send(h, 200, page, Content_Type="application/xml"))


def gzip_bomb_file(folder: Path, server: FeedServer) -> str:
    return _write(folder, "feed.csv.gz", _gzip_of_rows(BOMB_BYTES))


def gzip_bomb_content_encoding(folder: Path, server: FeedServer) -> str:
    bomb = _gzip_of_rows(BOMB_BYTES)
    return _route(folder, server, "feed.csv",
                  lambda h: send(h, 200, bomb, Content_Encoding="gzip", Content_Type="text/csv"))


def gzip_bomb_of_zeros(folder: Path, server: FeedServer) -> str:
    return _write(folder, "zeros.csv.gz", _bomb(b"", b"\0" * 4096, BOMB_BYTES))


def line_without_breaks(folder: Path, server: FeedServer) -> str:
    return _write(folder, "one-line.csv", b"id,title,price\nA-1," + b"x" * (24 << 20))


def lying_content_length(folder: Path, server: FeedServer) -> str:
    return _route(folder, server, "feed.csv", lambda h: send(h, 200, b"id,title\n", Content_Length=str(10 << 30)))


def dripping_server(folder: Path, server: FeedServer) -> str:
    def drip(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        with contextlib.suppress(OSError):  # the client hangs up at its deadline
            for _ in range(60):
                handler.wfile.write(b"x")
                handler.wfile.flush()
                time.sleep(1)

    return _route(folder, server, "feed.csv", drip)


def huge_retry_after(folder: Path, server: FeedServer) -> str:
    return _route(folder, server, "feed.csv", lambda h: send(h, 503, b"busy", Retry_After="100000"))


def silent_server(folder: Path, server: FeedServer) -> str:
    def hold(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(20)  # accepts the request and says nothing; the client gives up first

    return _route(folder, server, "feed.csv", hold)


def short_body(folder: Path, server: FeedServer) -> str:
    """A Content-Length of 10 followed by a whole feed: only the first ten bytes count."""
    body = (FIXTURES / "feeds" / "google_clean.xml").read_bytes()
    return _route(folder, server, "feed.xml", lambda h: send(h, 200, body, Content_Length="10"))


def redirect_loop(folder: Path, server: FeedServer) -> str:
    return _route(folder, server, "loop", lambda h: send(h, 302, Location=f"/{folder.name}/loop"))


def redirect_to_a_file(folder: Path, server: FeedServer) -> str:
    secret = _secret_file(folder)
    return _route(folder, server, "feed.csv", lambda h: send(h, 302, Location=f"file://{secret}"))


def redirect_to_cloud_metadata(folder: Path, server: FeedServer) -> str:
    return _route(folder, server, "feed.csv",
                  lambda h: send(h, 302, Location="http://169.254.169.254/latest/meta-data/"))


def not_modified_to_a_first_request(folder: Path, server: FeedServer) -> str:
    """A cache that answers 304 to every request, even one that has no earlier copy to compare with."""
    return _route(folder, server, "feed.xml", lambda h: send(h, 304, ETag='"v1"'))


CASES = [
    Case("billion laughs", billion_laughs, "xml.dtd_forbidden"),
    Case("quadratic blowup", quadratic_blowup, "xml.dtd_forbidden"),
    Case("external entity to a local file", external_entity, "xml.dtd_forbidden", absent=(SECRET,)),
    Case("parameter entity to a local file", parameter_entity, "xml.dtd_forbidden", absent=(SECRET,)),
    Case("external DTD on a server", external_dtd, "xml.dtd_forbidden", absent=("pwned",),
         unrequested=("evil.dtd",)),
    Case("12 MB text node", huge_text_node, "xml.syntax"),
    Case("1,000-deep nesting", deep_nesting, "xml.syntax"),
    Case("truncated XML", truncated_feed, "xml.syntax"),
    Case("sitemap", sitemap, "feed.sitemap"),
    Case("HTML page", html_page, "feed.html"),
    Case("login page served as XML", login_page_over_http, "feed.html"),
    Case("gzip bomb file", gzip_bomb_file, "decode.too_large"),
    Case("gzip bomb as Content-Encoding", gzip_bomb_content_encoding, "decode.too_large"),
    Case("gzip bomb of zeros", gzip_bomb_of_zeros, "decode.too_large"),
    Case("a line without breaks", line_without_breaks, "csv.line_too_long"),
    Case("Content-Length of 10 GiB", lying_content_length, "fetch.too_large"),
    Case("a server that drips a byte a second", dripping_server, "fetch.timeout", deadline=3),
    Case("Retry-After of 100,000 s", huge_retry_after, "fetch.status", seconds=20, deadline=5),
    Case("a server that never answers", silent_server, "fetch.timeout", seconds=15, deadline=3),
    Case("Content-Length shorter than the body", short_body, "xml.syntax"),
    Case("redirect loop", redirect_loop, "fetch.too_many_redirects"),
    Case("redirect to a local file", redirect_to_a_file, "fetch.blocked", absent=(SECRET,)),
    Case("redirect to cloud metadata", redirect_to_cloud_metadata, "fetch.blocked"),
    Case("304 to a first request", not_modified_to_a_first_request, "fetch.status"),
]


def too_many_columns(folder: Path, server: FeedServer) -> str:
    header = ",".join(f"c{i}" for i in range(10_000))
    return _write(folder, "wide.csv", f"{header}\n{','.join('x' for _ in range(10_000))}\n")


def empty_file(folder: Path, server: FeedServer) -> str:
    return _write(folder, "empty.csv", b"")


def cut_inside_a_quoted_cell(folder: Path, server: FeedServer) -> str:
    """A download that broke off inside a quoted description: the open quote would swallow the rest."""
    whole = HEADER + _rows(50) + ROW.format(n=51, title="Shirt 51").replace("Soft cotton", '"Soft, ""combed"" cotton')
    return _write(folder, "cut.csv", whole.rstrip("\n"))


CASES += [
    Case("10,000 columns", too_many_columns, "csv.too_many_columns"),
    Case("an empty file", empty_file, "feed.empty_file"),
    Case("a download cut inside a quoted cell", cut_inside_a_quoted_cell, "csv.malformed"),
]


# --- broken but readable: the items are read as meant, and what is wrong is a finding ---

HEADER = "id,title,description,link,image_link,price,availability,condition,brand,gtin\n"
ROW = ("A-{n},{title},Soft cotton,https://shop.example/p/{n},https://shop.example/i/{n}.jpg,10.00 USD,in stock,"
       "new,Northwind,\n")


def _rows(count: int) -> str:
    return "".join(ROW.format(n=n, title=f"Shirt {n}") for n in range(1, count + 1))


@dataclass(frozen=True)
class Readable:
    """A damaged but readable feed: how many items must be read, the codes it must give, and text the
    published catalog must hold (decoded as meant)."""

    name: str
    make: Callable[[Path, FeedServer], str]
    items: int
    codes: tuple[str, ...] = ()
    published: str = ""
    says: str = ""  # in the messages of its findings
    exit_code: int = 0  # of `feedcheck check` into an empty folder
    refused: bool = False  # by the quality gate: the CLI exits 3, a check without publishing 1
    seconds: float = 30.0
    mib: float = 200.0


def utf8_bom(folder: Path, server: FeedServer) -> str:
    return _write(folder, "bom.csv", ("\ufeff" + HEADER + _rows(3)).encode())


def utf16_tsv(folder: Path, server: FeedServer) -> str:
    return _write(folder, "utf16.tsv", (HEADER + _rows(3)).replace(",", "\t").encode("utf-16"))


def windows_1252_labelled_latin_1(folder: Path, server: FeedServer) -> str:
    body = (HEADER + ROW.format(n=1, title="Shirt 20 € “smart”")).encode("cp1252")
    return _route(folder, server, "feed.csv",
                  lambda h: send(h, 200, body, Content_Type="text/csv; charset=iso-8859-1"))


def invalid_byte_in_utf8(folder: Path, server: FeedServer) -> str:
    body = (HEADER + _rows(3)).encode().replace(b"Shirt 2", b"Shirt \xff2")
    return _route(folder, server, "feed.csv", lambda h: send(h, 200, body, Content_Type="text/csv; charset=utf-8"))


def mixed_newlines(folder: Path, server: FeedServer) -> str:
    """The header and the first row end in a lone \\r (an old Mac export), the second in \\r\\n, the third in
    \\n, and a quoted cell holds a \\r\\n."""
    rows = [ROW.format(n=1, title='"Shirt\r\nwith a long name"'), ROW.format(n=2, title="Shirt 2"),
            ROW.format(n=3, title="Shirt 3")]
    ends = ["\r", "\r", "\r\n", "\n"]
    text = "".join(line.rstrip("\n") + end for line, end in zip([HEADER, *rows], ends))
    return _write(folder, "newlines.csv", text.encode())


def carriage_return_and_space_in_a_cell(folder: Path, server: FeedServer) -> str:
    """An unquoted description holding a \\r then a space, as a text field pasted from an old Mac app leaves it.
    The \\r ends a line, so the row reads as two short rows whose items lack required values; pandas before 3.1
    instead re-read the line until its buffer overflowed (pandas-dev/pandas#51141) and the feed was refused."""
    rows = _rows(3).replace("A-2,Shirt 2,Soft cotton", "A-2,Shirt 2,Soft\r cotton")
    return _write(folder, "cr-in-cell.csv", HEADER + rows)


def ragged_row(folder: Path, server: FeedServer) -> str:
    return _write(folder, "ragged.csv", HEADER + _rows(3) + "A-9,Shirt,x,y,z,1,2,3,4,5,6,7,8\n")


def big_cell(folder: Path, server: FeedServer) -> str:
    return _write(folder, "big-cell.csv", HEADER + ROW.format(n=1, title="x" * 200_000))


def header_only(folder: Path, server: FeedServer) -> str:
    return _write(folder, "header.csv", HEADER)


READABLE = [
    Readable("UTF-8 with a byte-order mark", utf8_bom, 3, ("decode.bom",), published="A-3"),
    Readable("UTF-16 TSV", utf16_tsv, 3, published="Shirt 3"),
    Readable("Windows-1252 labelled Latin-1", windows_1252_labelled_latin_1, 1, published="Shirt 20 € “smart”"),
    Readable("an invalid byte in declared UTF-8", invalid_byte_in_utf8, 3, ("decode.invalid_bytes",),
             says="Byte(s) ff at byte offset", exit_code=1),
    Readable("mixed newlines and a cell across lines", mixed_newlines, 3, published="Shirt 3"),
    Readable("a carriage return and a space inside a cell", carriage_return_and_space_in_a_cell, 4,
             ("item.missing_required",), published="Shirt 3", exit_code=1),
    Readable("a ragged row", ragged_row, 3, ("csv.ragged_row",), exit_code=1),
    Readable("a 200 KB cell", big_cell, 1, ("item.too_long",), exit_code=3, refused=True),
    Readable("a header and no items", header_only, 0, ("feed.no_items",), exit_code=3, refused=True),
]


# --- event logs: broken lines cost themselves, never the good events around them ---

CATALOG = FIXTURES / "events" / "northwind_catalog.csv"
PURCHASE = {"event": "Purchase", "timestamp": 1795510800, "properties": {
    "contents": [{"content_id": "NW-TEE-001-M", "content_type": "product", "quantity": 1, "price": 24.0}],
    "value": 24.0, "currency": "USD"}}


def _event(event_id: str, **properties: object) -> str:
    record = dict(PURCHASE, event_id=event_id)
    if properties:
        record["properties"] = dict(PURCHASE["properties"], **properties)  # type: ignore[arg-type]
    return json.dumps(record) + "\n"


@dataclass(frozen=True)
class EventCase:
    """A hostile or broken event log: how many events must be read and the codes it must give."""

    name: str
    make: Callable[[Path], str]
    events: int
    codes: tuple[str, ...]
    seconds: float = 30.0
    mib: float = 200.0


def not_json_lines(folder: Path) -> str:
    return _write(folder, "garbage.jsonl", _event("o-1") + "not json at all\n{\"event\": \n\x00\x01\x02\n"
                  + _event("o-2"))


def truncated_gzip_log(folder: Path) -> str:
    whole = gzip.compress("".join(_event(f"o-{n}") for n in range(200)).encode())
    return _write(folder, "cut.jsonl.gz", whole[:-200])


def deeply_nested(folder: Path) -> str:
    return _write(folder, "deep.jsonl", _event("o-1") + '{"event": "Purchase", "event_id": "d", "properties": '
                  + "[" * 100_000 + "]" * 100_000 + "}\n" + _event("o-2"))


def huge_numbers(folder: Path) -> str:
    return _write(folder, "huge.jsonl", _event("o-1") + _event("o-2", value=1e308, contents=[
        {"content_id": "NW-TEE-001-M", "quantity": 2 ** 70, "price": -1e308}]) + '{"event": "Purchase", '
        '"event_id": "o-3", "properties": {"value": 1' + "0" * 5_000 + "}}\n" + _event("o-4"))


def nan_and_infinity(folder: Path) -> str:
    return _write(folder, "nan.jsonl", _event("o-1") + '{"event": "Purchase", "event_id": "o-2", "timestamp": '
                  '1795510800, "properties": {"value": NaN, "currency": "USD", "contents": [{"content_id": '
                  '"NW-TEE-001-M", "quantity": Infinity, "price": -Infinity}]}}\n' + _event("o-3"))


def content_ids_of_every_type(folder: Path) -> str:
    ids: list[object] = [None, True, 5, 1.5, 1e308, [], {}, ["NW-TEE-001-M"], {"id": "x"}, "", " NW-TEE-001-M "]
    return _write(folder, "types.jsonl", "".join(
        _event(f"o-{n}", contents=[{"content_id": value, "quantity": 1, "price": 24.0}])
        for n, value in enumerate(ids)))


def line_without_end(folder: Path) -> str:
    """A 300 MB record, then a good event on the next line."""
    path = folder / "long-line.jsonl"
    with path.open("w") as out:
        out.write(_event("o-1") + '{"event": "Purchase", "event_id": "long", "properties": {"x": "')
        for _ in range(300):
            out.write("y" * (1 << 20))
        out.write('"}}\n' + _event("o-2"))
    return str(path)


def gigabyte_without_a_newline(folder: Path) -> str:
    """A record cut short and followed by a gigabyte of zero bytes to the end, with no newline: what a writer that
    crashed leaves in a log file it had made large in advance.  Sparse, so it costs no disk."""
    path = folder / "preallocated.jsonl"
    with path.open("w") as out:
        out.write(_event("o-1") + '{"event": "Purchase", "event_id": "cut", "properties": {"x": "')
        out.truncate(1 << 30)
    return str(path)


def bare_null_lines(folder: Path) -> str:
    """``null`` lines (a logger's ``json.dumps(None)``), the first of them opening the log: Arrow's JSON reader
    crashes the process on one that opens a parse block."""
    return _write(folder, "nulls.jsonl", "null\n" + _event("o-1") + " null\n" + _event("o-2"))


def gzip_bomb_log(folder: Path) -> str:
    return _write(folder, "bomb.jsonl.gz", _bomb(b"", _event("o-1").encode(), BOMB_BYTES))


EVENT_CASES = [
    EventCase("lines that are not JSON", not_json_lines, 2, ("events.not_json",)),
    EventCase("a truncated gzip log", truncated_gzip_log, 133, ("events.file_unreadable",)),
    EventCase("100,000-deep nesting", deeply_nested, 2, ("events.not_json",)),
    EventCase("huge numbers", huge_numbers, 3, ("events.not_json", "events.price_invalid")),
    EventCase("NaN and Infinity", nan_and_infinity, 3, ("events.value_invalid", "events.quantity_invalid")),
    EventCase("content ids of every JSON type", content_ids_of_every_type, 11,
              ("events.content_id_not_string", "events.missing_content_id", "match.case_or_whitespace")),
    EventCase("a 300 MB line", line_without_end, 2, ("events.too_large",)),
    EventCase("a gigabyte without a newline", gigabyte_without_a_newline, 1, ("events.not_json",)),
    EventCase("bare null lines", bare_null_lines, 2, ("events.unknown_shape",)),
    EventCase("a gzip bomb", gzip_bomb_log, 1, ("events.file_unreadable", "events.duplicate")),
]
