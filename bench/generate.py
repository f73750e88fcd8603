"""Write deterministic, real-shaped feeds and event logs of any size for the benchmark.

The same ``--items``/``--events``/``--seed`` always give the same bytes, so a
figure can be reproduced and two versions of feedcheck compared on one input.
Feeds carry about 2% realistic defects (a missing title, a price without a
currency, an unknown availability, a relative link, a repeated id, an
over-long title) and about 1% GTINs with a wrong check digit.  Event logs mix
Events API 2.0 server lines and browser pixel lines; about 3% of content ids
miss the catalog (a case change, stray whitespace, a group id, an id that
never existed), about 2% of purchases lack a value or currency, and about 1%
of events are logged twice.  With ``--shape eapi1`` a log is Events API 1.x
``pixel/track`` bodies instead, with the legacy names of that time
(``CompletePayment`` for a purchase) and ISO 8601 timestamps.

Feeds come as CSV, TSV, RSS 2.0 or Atom 1.0 (the same items in each), and a
path ending in ``.gz`` is written gzipped.  Everything is written as it is
generated, so a 10M-event log needs no more memory than a 1,000-event one.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

COLUMNS = ("id", "title", "description", "availability", "condition", "price", "link", "image_link",
           "brand", "gtin", "item_group_id", "google_product_category", "color", "size")
_COLOURS = ("Sand", "Black", "Navy", "Olive", "Rust", "Cream", "Slate", "Forest")
_SIZES = ("XS", "S", "M", "L", "XL")
_KINDS = (("Organic Cotton Tee", "Apparel & Accessories > Clothing > Shirts & Tops", 24),
          ("Waxed Canvas Jacket", "Apparel & Accessories > Clothing > Outerwear > Coats & Jackets", 189),
          ("Merino Beanie", "Apparel & Accessories > Clothing Accessories > Hats", 32),
          ("Leather Belt", "Apparel & Accessories > Clothing Accessories > Belts", 58),
          ("Trail Runner Shoe", "Apparel & Accessories > Shoes", 129))
_BRANDS = ("Northwind Outfitters", "Harbor & Pine", "Fjellvik")
_DEFECTS = ("no_title", "bare_price", "availability", "relative_link", "duplicate_id", "long_title")
_BASE = "https://shop.bench.example"
_LEGACY = {"Purchase": "CompletePayment"}  # Events API 1.x named a purchase so


def item_id(number: int) -> str:
    """The catalog id of item ``number`` (0-based): group ``BX-<n // 5>`` and a size variant."""
    return f"BX-{number // 5:06d}-{_SIZES[number % 5]}"


def group_id(number: int) -> str:
    return f"BX-{number // 5:06d}"


def gtin(number: int, wrong: bool = False) -> str:
    """A 13-digit GTIN with a correct check digit (or a wrong one)."""
    body = f"40{number:010d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    check = (10 - total % 10) % 10
    return body + str((check + 1) % 10 if wrong else check)


def items(count: int, seed: int) -> Iterator[dict[str, str]]:
    """The catalog's items, with defects placed by a seeded random stream."""
    rng = random.Random(seed)
    for number in range(count):
        kind, category, base = _KINDS[(number // 5) % len(_KINDS)]
        colour = _COLOURS[(number // 5) % len(_COLOURS)]
        size = _SIZES[number % 5]
        item = {
            "id": item_id(number),
            "title": f"{kind} – {colour} ({size})",
            "description": f"{kind} in {colour.lower()}, size {size}. Made to last; repaired free for two years.",
            "availability": "in stock" if rng.random() > 0.1 else "out of stock",
            "condition": "new",
            "price": f"{base + (number % 7):.2f} USD",
            "link": f"{_BASE}/p/{group_id(number).lower()}?size={size.lower()}",
            "image_link": f"https://cdn.bench.example/img/{group_id(number).lower()}-{colour.lower()}.jpg",
            "brand": _BRANDS[number % len(_BRANDS)],
            "gtin": gtin(number, wrong=rng.random() < 0.01),
            "item_group_id": group_id(number),
            "google_product_category": category,
            "color": colour,
            "size": size,
        }
        if rng.random() < 0.02:
            _spoil(item, rng.choice(_DEFECTS), number)
        yield item


def _spoil(item: dict[str, str], defect: str, number: int) -> None:
    if defect == "no_title":
        item["title"] = ""
    elif defect == "bare_price":
        item["price"] = item["price"].split()[0]
    elif defect == "availability":
        item["availability"] = "maybe soon"
    elif defect == "relative_link":
        item["link"] = item["link"].removeprefix(_BASE)
    elif defect == "duplicate_id" and number > 0:
        item["id"] = item_id(number - 1)
    elif defect == "long_title":
        item["title"] = (item["title"] + " ") * 20


def write_delimited(path: Path, count: int, seed: int, delimiter: str) -> None:
    """CSV or TSV with TikTok's header names (``sku_id`` for the id)."""
    with _open(path) as out:
        out.writelines(delimited(count, seed, delimiter))


def delimited(count: int, seed: int, delimiter: str) -> Iterator[str]:
    """The lines :func:`write_delimited` writes."""
    yield delimiter.join(["sku_id", *COLUMNS[1:]]) + "\n"
    for item in items(count, seed):
        yield delimiter.join(_cell(item[c], delimiter) for c in COLUMNS) + "\n"


def _cell(value: str, delimiter: str) -> str:
    if delimiter in value or '"' in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def write_rss(path: Path, count: int, seed: int) -> None:
    """RSS 2.0 with every product field in Google's ``g:`` namespace, pretty-printed as shops export it."""
    with _open(path) as out:
        out.writelines(rss(count, seed))


def rss(count: int, seed: int) -> Iterator[str]:
    """The text :func:`write_rss` writes, a piece at a time."""
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0">\n<channel>\n'
           f"<title>Bench shop</title>\n<link>{_BASE}</link>\n<description>Benchmark feed</description>\n")
    for item in items(count, seed):
        yield "  <item>\n"
        for name in COLUMNS:
            tag = name if name in ("title", "description", "link") else f"g:{name}"
            yield f"    <{tag}>{escape(item[name])}</{tag}>\n"
        yield "  </item>\n"
    yield "</channel>\n</rss>\n"


def write_events(path: Path, count: int, catalog_items: int, seed: int, miss: float = 0.03,
                 shape: str = "eapi2") -> None:
    """JSON lines in time order: Events API 2.0 server events and browser pixel events (``shape`` "eapi2"), or
    1.x bodies with legacy names ("eapi1"); ``miss`` of the content ids are not the catalog's (a near miss or an
    unknown id)."""
    with _open(path) as out:
        out.writelines(event_lines(count, catalog_items, seed, miss, shape))


def event_lines(count: int | None, catalog_items: int, seed: int, miss: float = 0.03,
                shape: str = "eapi2") -> Iterator[str]:
    """The lines :func:`write_events` writes, one at a time (without end when ``count`` is ``None``: a log
    that keeps growing)."""
    rng = random.Random(seed)
    start = 1_795_000_000
    previous: str | None = None
    for number in itertools.count() if count is None else range(count):
        if previous is not None and rng.random() < 0.01:
            yield previous
            continue
        previous = _event_line(rng, number, start + number // 10, catalog_items, miss, shape)
        yield previous


def _event_line(rng: random.Random, number: int, when: int, catalog_items: int, miss: float,
                shape: str = "eapi2") -> str:
    roll = rng.random()
    name = "Purchase" if roll < 0.2 else "AddToCart" if roll < 0.5 else "ViewContent"
    lines = rng.randint(1, 3) if name == "Purchase" else 1
    contents = []
    for _ in range(lines):
        product = rng.randrange(catalog_items)
        contents.append({"content_id": _content_id(rng, product, miss), "content_type": "product",
                         "quantity": rng.randint(1, 2), "price": float(24 + product % 7)})
    properties: dict[str, object] = {"contents": contents,
                                     "value": round(sum(c["quantity"] * c["price"] for c in contents), 2),
                                     "currency": "USD"}
    if name == "Purchase" and rng.random() < 0.02:
        del properties[rng.choice(("value", "currency"))]
    event_id = f"{name[:2].lower()}-{number:09d}"
    if shape == "eapi1":
        record = {"pixel_code": "CBENCH2026", "event": _LEGACY.get(name, name), "event_id": event_id,
                  "timestamp": datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "context": {"page": {"url": f"{_BASE}/checkout"}, "ip": "203.0.113.7",
                              "user": {"external_id": f"u{number % 100_000:05d}"}},
                  "properties": properties}
    elif rng.random() < 0.5:
        record = {"event_source": "web", "event_source_id": "CBENCH2026", "data": [
            {"event": name, "event_time": when, "event_id": event_id,
             "user": {"ttp": f"ttp{number % 100_000:05d}", "ip": "203.0.113.7"},
             "page": {"url": f"{_BASE}/checkout"}, "properties": properties}]}
    else:
        record = {"event": name, "event_id": event_id, "timestamp": when,
                  "context": {"pixel": {"code": "CBENCH2026"}, "page": {"url": f"{_BASE}/p"},
                              "user": {"ttp": f"ttp{number % 100_000:05d}"}},
                  "properties": properties}
    return json.dumps(record, separators=(",", ":")) + "\n"


def _content_id(rng: random.Random, product: int, miss: float) -> str:
    """The catalog id, or (``miss`` of the time) a near miss or an unknown id."""
    if rng.random() >= miss:
        return item_id(product)
    miss = rng.randrange(4)
    if miss == 0:
        return item_id(product).lower()
    if miss == 1:
        return f" {item_id(product)}"
    if miss == 2:
        return group_id(product)
    return f"GONE-{product:07d}"


def write_atom(path: Path, count: int, seed: int) -> None:
    """Atom 1.0 as Google takes it: ``id``, ``title``, ``summary`` and ``link href`` in Atom's names, the rest
    in the ``g:`` namespace."""
    with _open(path) as out:
        out.writelines(atom(count, seed))


def atom(count: int, seed: int) -> Iterator[str]:
    """The text :func:`write_atom` writes, a piece at a time."""
    atom_names = {"id": "id", "title": "title", "description": "summary"}
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://base.google.com/ns/1.0">\n'
           f'<title>Bench shop</title>\n<link rel="self" href="{_BASE}/feed.atom"/>\n'
           "<updated>2026-11-20T12:00:00Z</updated>\n")
    for item in items(count, seed):
        yield "  <entry>\n"
        for name in COLUMNS:
            if name == "link":
                yield f'    <link href="{escape(item[name], {chr(34): "&quot;"})}"/>\n'
                continue
            tag = atom_names.get(name, f"g:{name}")
            yield f"    <{tag}>{escape(item[name])}</{tag}>\n"
        yield "  </entry>\n"
    yield "</feed>\n"


def feed_text(kind: str, count: int, seed: int) -> str:
    """A whole feed of ``kind`` (csv, tsv, rss or atom) as text."""
    pieces = {"csv": lambda: delimited(count, seed, ","), "tsv": lambda: delimited(count, seed, "\t"),
              "rss": lambda: rss(count, seed), "atom": lambda: atom(count, seed)}[kind]()
    return "".join(pieces)


def _open(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        return gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=1)
    return path.open("w", encoding="utf-8", newline="")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("csv", "tsv", "rss", "atom", "events"),
                        help="what to write; a path ending in .gz is written gzipped")
    parser.add_argument("path", type=Path)
    parser.add_argument("--items", type=int, default=200_000, help="catalog items (for events: the ids to use)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--miss", type=float, default=0.03, help="events: the share of content ids not in the catalog")
    parser.add_argument("--shape", choices=("eapi2", "eapi1"), default="eapi2",
                        help="events: Events API 2.0 and pixel lines, or 1.x bodies with legacy names")
    args = parser.parse_args(argv)
    if args.kind == "events":
        write_events(args.path, args.events, args.items, args.seed, args.miss, args.shape)
    elif args.kind == "rss":
        write_rss(args.path, args.items, args.seed)
    elif args.kind == "atom":
        write_atom(args.path, args.items, args.seed)
    else:
        write_delimited(args.path, args.items, args.seed, "," if args.kind == "csv" else "\t")


if __name__ == "__main__":
    main()
