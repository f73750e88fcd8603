"""Measure feedcheck against the floors, side by side in one run, and print the table and the ratios.

For each size the inputs are generated once (``bench/generate.py``, same seed,
same bytes) into ``--workdir``; then each command runs in a child process of
its own, so its wall time and its peak resident memory (the child's
``ru_maxrss``) are its alone.  The floors and feedcheck take turns on each
input, so a busy neighbour on a shared machine slows both.

Rows:

- ``floor xml`` / ``floor delimited``: the least parse of the feed (see ``bench/floors.py``);
- ``check``: ``feedcheck check FEED`` with the catalog published and the
  reports written, as a scheduled run does;
- ``floor events``: every event line parsed with orjson;
- ``floor catalog``: the least parse of the published catalog the events are matched with;
- ``events``: ``feedcheck events LOG --catalog CATALOG``: read, deduplicate,
  check and reconcile against the feed's published catalog, which it reads
  and checks too: measured against both floors, the log's and the catalog's;
- ``check+events``: ``feedcheck check FEED --events LOG``, the whole job,
  against the sum of both floors;
- ``check on N Dask workers``: ``feedcheck check FEED --dask local:N`` on the
  largest RSS feed, N = 1 then 2, for the speed-up of the second worker;
- ``events on N Dask workers``: ``feedcheck events LOG --catalog CATALOG
  --dask local:N`` on the smallest generated log, likewise.

Memory flatness is the peak at the largest feed over the peak at the smallest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEED_FORMATS = {"rss": ("xml", "xml"), "csv": ("csv", "delimited"), "tsv": ("tsv", "delimited")}
TARGETS = {"check": 2.0, "events": 2.0, "check+events": 2.0}
XML_CHECK_TARGET = 1.6  # an RSS feed's floor is lxml's parse, which is most of the work; its check is held closer


@dataclass
class Measured:
    case: str
    input: str
    units: int
    seconds: float
    peak_mib: float
    floor: float | None = None

    @property
    def ratio(self) -> float | None:
        return self.seconds / self.floor if self.floor else None


def measure(command: list[str], quiet: bool = True) -> tuple[float, float]:
    """Run ``command`` as a child; its wall seconds and its own peak RSS in MiB.

    Exit codes 0 and 1 both count (1 means the feed has error findings, which
    the generated feeds are made to have); anything else stops the benchmark.
    """
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        error = child.stderr.read().decode(errors="replace") if child.stderr else ""
        raise SystemExit(f"{' '.join(command)} exited {code}:\n{error}")
    return seconds, usage.ru_maxrss / 1024


MOSTLY_MISSING = 0.9  # the share of content ids not in the catalog, in the log of an out-of-sync catalog


def generated(workdir: Path, kind: str, items: int, events: int = 0, miss: float | None = None,
              shape: str = "eapi2") -> Path:
    """The input of that kind and size (for events, ``miss`` of their ids not in the catalog, when given, and
    the log's ``shape``: see ``bench/generate.py``), generated on first use."""
    suffix = {"rss": "xml", "csv": "csv", "tsv": "tsv", "events": "jsonl"}[kind]
    missing = f"-miss{round(miss * 100)}" if miss is not None else ""
    shaped = f"-{shape}" if shape != "eapi2" else ""
    name = f"events-{events}-of-{items}{missing}{shaped}.{suffix}" if kind == "events" else f"feed-{items}.{suffix}"
    path = workdir / "inputs" / name
    if not path.exists():
        print(f"generating {path.name} …", file=sys.stderr)
        partial = path.with_name(path.name + ".partial")
        subprocess.run([sys.executable, str(HERE / "generate.py"), kind, str(partial), "--items", str(items),
                        "--events", str(events), "--shape", shape,
                        *(["--miss", str(miss)] if miss is not None else [])], check=True)
        partial.rename(path)
    return path


def feedcheck(*args: str) -> list[str]:
    return [sys.executable, "-m", "feedcheck", *args]


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def run_feeds(workdir: Path, formats: list[str], sizes: list[int]) -> list[Measured]:
    rows = []
    for fmt in formats:
        suffix, floor_kind = FEED_FORMATS[fmt]
        for items in sizes:
            feed = generated(workdir, fmt, items)
            floor, floor_peak = measure([sys.executable, str(HERE / "floors.py"), floor_kind, str(feed)])
            rows.append(Measured(f"floor {floor_kind}", feed.name, items, floor, floor_peak))
            out = fresh(workdir / "out" / f"check-{fmt}-{items}")
            seconds, peak = measure(feedcheck("check", str(feed), "--out", str(out), "--channel", "tiktok"))
            rows.append(Measured("check", feed.name, items, seconds, peak, floor))
            print(_line(rows[-2]), _line(rows[-1]), sep="\n", file=sys.stderr)
    return rows


def run_events(workdir: Path, sizes: list[int], catalog_items: int) -> list[Measured]:
    rows = []
    feed = generated(workdir, "csv", catalog_items)
    catalog = workdir / "out" / "catalog"
    if not (catalog / "catalog.csv").exists():
        measure(feedcheck("check", str(feed), "--out", str(fresh(catalog))))
    catalog_floor, catalog_peak = measure([sys.executable, str(HERE / "floors.py"), "delimited",
                                           str(catalog / "catalog.csv")])
    rows.append(Measured("floor catalog", "catalog.csv", catalog_items, catalog_floor, catalog_peak))
    # The generated logs, then one whose ids mostly miss the catalog (an out-of-sync catalog) and one of 1.x bodies
    # with legacy names (read record by record): speed must not depend on how clean the log is, or on its shape.
    for events, miss, shape in [*((n, None, "eapi2") for n in sizes), (min(sizes), MOSTLY_MISSING, "eapi2"),
                                (min(sizes), None, "eapi1")]:
        log = generated(workdir, "events", catalog_items, events, miss, shape)
        floor, floor_peak = measure([sys.executable, str(HERE / "floors.py"), "events", str(log)])
        rows.append(Measured("floor events", log.name, events, floor, floor_peak))
        out = fresh(workdir / "out" / log.stem)
        seconds, peak = measure(feedcheck("events", str(log), "--catalog", str(catalog / "catalog.csv"),
                                          "--out", str(out)))
        rows.append(Measured("events", log.name, events, seconds, peak, floor + catalog_floor))
        if miss is not None or shape != "eapi2":
            print(*(_line(r) for r in rows[-2:]), sep="\n", file=sys.stderr)
            continue
        feed_floor, _ = measure([sys.executable, str(HERE / "floors.py"), "delimited", str(feed)])
        out = fresh(workdir / "out" / f"check-events-{events}")
        seconds, peak = measure(feedcheck("check", str(feed), "--events", str(log), "--out", str(out)))
        rows.append(Measured("check+events", f"{feed.name} + {log.name}", catalog_items + events, seconds, peak,
                             floor + feed_floor))
        print(*(_line(r) for r in rows[-3:]), sep="\n", file=sys.stderr)
    return rows


def run_dask(workdir: Path, items: int, events: int, catalog_items: int) -> list[Measured]:
    """``check`` of the RSS feed, and ``events`` of the log against the catalog (when ``events``), on a local
    Dask cluster of 1 worker, then of 2: the speed-up of the second."""
    feed = generated(workdir, "rss", items)
    rows = _on_dask(workdir, "check", feed.name, items, ["check", str(feed)])
    if events:
        log = generated(workdir, "events", catalog_items, events)
        catalog = workdir / "out" / "catalog" / "catalog.csv"
        rows += _on_dask(workdir, "events", log.name, events, ["events", str(log), "--catalog", str(catalog)])
    return rows


def _on_dask(workdir: Path, case: str, name: str, units: int, command: list[str]) -> list[Measured]:
    rows = []
    for workers in (1, 2):
        out = fresh(workdir / "out" / f"dask-{case}-{workers}-{units}")
        seconds, peak = measure(feedcheck(*command, "--out", str(out), "--dask", f"local:{workers}"))
        rows.append(Measured(f"{case} on {workers} Dask worker{'s' if workers > 1 else ''}", name, units,
                             seconds, peak))
        print(_line(rows[-1]), file=sys.stderr)
    return rows


def _line(row: Measured) -> str:
    ratio = f"{row.ratio:.2f}×" if row.ratio else ""
    return (f"| {row.case} | {row.input} | {row.seconds:,.1f} | {row.units / row.seconds:,.0f} | "
            f"{row.peak_mib:,.0f} | {ratio} |")


def table(rows: list[Measured]) -> str:
    head = "| case | input | seconds | items or events/s | peak RSS MiB | × floor |\n|---|---|---:|---:|---:|---:|"
    return "\n".join([head, *(_line(r) for r in rows)])


def verdicts(rows: list[Measured]) -> list[str]:
    """Each target, with the figure it was judged on."""
    out = []
    for row in rows:
        target = XML_CHECK_TARGET if row.case == "check" and row.input.endswith(".xml") else TARGETS.get(row.case)
        if target is not None and row.ratio is not None:
            out.append(f"{row.case} {row.input}: {row.ratio:.2f}× the floor "
                       f"({'meets' if row.ratio <= target else 'misses'} ≤ {target}×)")
    for fmt in {r.input.rsplit(".", 1)[-1] for r in rows if r.case == "check"}:
        checks = sorted((r for r in rows if r.case == "check" and r.input.endswith(fmt)), key=lambda r: r.units)
        if len(checks) > 1:
            small, large = checks[0], checks[-1]
            flat = large.peak_mib / small.peak_mib
            out.append(f"memory {fmt}: {large.peak_mib:,.0f} MiB at {large.units:,} items = {flat:.2f}× the peak "
                       f"at {small.units:,} ({'meets' if flat <= 1.3 and large.peak_mib < 1024 else 'misses'} "
                       "≤ 1.3× and < 1 GiB)")
    dask = {r.case: r for r in rows if " Dask worker" in r.case}
    for case in ("check", "events"):
        one, two = dask.get(f"{case} on 1 Dask worker"), dask.get(f"{case} on 2 Dask workers")
        if one is not None and two is not None:
            speedup = one.seconds / two.seconds
            judged = f"{'meets' if speedup >= 1.6 else 'misses'} ≥ 1.6×" if case == "check" else "no target yet"
            out.append(f"Dask {case} {two.input}: 2 workers {speedup:.2f}× as fast as 1 ({judged})")
    for row in rows:
        if row.case == "events":
            out.append(f"memory events {row.input}: {row.peak_mib:,.0f} MiB "
                       f"({'meets' if row.peak_mib <= 1536 else 'misses'} ≤ 1.5 GiB)")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path(".bench"), help="inputs and outputs (default .bench)")
    parser.add_argument("--formats", nargs="+", choices=sorted(FEED_FORMATS), default=["rss", "csv", "tsv"])
    parser.add_argument("--items", nargs="+", type=int, default=[200_000, 1_000_000], help="feed sizes")
    parser.add_argument("--events", nargs="+", type=int, default=[1_000_000, 10_000_000], help="event-log sizes")
    parser.add_argument("--catalog-items", type=int, default=200_000, help="the catalog the events refer to")
    parser.add_argument("--quick", action="store_true", help="200k-item feeds and 1M events only")
    parser.add_argument("--no-dask", action="store_true",
                        help="skip the speed-ups on 2 local Dask workers against 1 (check, and events)")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.events = [200_000], [1_000_000]
    rows = run_feeds(args.workdir, args.formats, args.items) if args.items != [0] else []
    rows += run_events(args.workdir, args.events, args.catalog_items) if args.events != [0] else []
    if not args.no_dask and args.items != [0]:
        rows += run_dask(args.workdir, max(args.items), min(args.events) if args.events != [0] else 0,
                         args.catalog_items)
    print(table(rows))
    print()
    print("\n".join(verdicts(rows)))


if __name__ == "__main__":
    main()
