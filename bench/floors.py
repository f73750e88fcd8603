"""The least any tool must do to read a feed or an event log: the floors feedcheck is measured against.

Each floor reads the whole input and touches every value, and does nothing
else: no rules, no findings, no output.  Run one per process, so its time and
peak memory are its own.

- ``xml``: lxml's ``iterparse`` with feedcheck's hardened parser options,
  every item's fields pulled into a dict, each item freed once read;
- ``delimited``: ``pandas.read_csv(dtype=str)`` of the whole file;
- ``events``: every line parsed with ``orjson`` (``json`` when orjson is not
  installed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def xml_floor(path: Path) -> int:
    from lxml import etree

    from feedcheck.readers.xml import ITEM_TAGS, PARSER_OPTIONS

    items = 0
    for _event, element in etree.iterparse(str(path), events=("end",), tag=ITEM_TAGS, **PARSER_OPTIONS):
        row = {child.tag: child.text for child in element}
        items += bool(row)
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    return items


def delimited_floor(path: Path) -> int:
    import pandas as pd

    with path.open("rb") as head:
        first = head.readline()
    return len(pd.read_csv(path, dtype=str, sep="\t" if b"\t" in first else ",", keep_default_na=False))


def events_floor(path: Path) -> int:
    try:
        from orjson import loads
    except ImportError:
        from json import loads
    events = 0
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                loads(line)
                events += 1
    return events


FLOORS = {"xml": xml_floor, "delimited": delimited_floor, "events": events_floor}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(FLOORS))
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    print(FLOORS[args.kind](args.path), file=sys.stdout)


if __name__ == "__main__":
    main()
