"""What pandera costs on top of the rules it runs: a channel's schema against the same checks as plain masks.

The feed is read and normalised once (trimmed, absent fields added, as
feedcheck validates it); then, on the same chunks, the best of ``--repeat``
runs of each:

- ``pandera``: ``schema.validate(chunk, lazy=True)``, failure cases included;
- ``masks``: every check's own vectorised function called on its column (or
  the chunk, for rules across fields), and the failing rows taken from the
  mask, which is what a hand-written validator would do.

Prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors
import pandera.pandas as pa

from feedcheck.clock import utc_now
from feedcheck.findings import FindingLog
from feedcheck.readers import open_feed
from feedcheck.rules.channels import get_channel
from feedcheck.rules.validate import FeedValidator
from feedcheck.settings import ChannelOptions


def prepared_chunks(path: Path, channel: str) -> tuple[pa.DataFrameSchema, list[pd.DataFrame]]:
    """The feed's chunks as the schema sees them, and the schema."""
    log = FindingLog()
    validator = FeedValidator(get_channel(channel), log, ChannelOptions(), now=utc_now())
    chunks = []
    with open_feed(path, log) as (_, raw_chunks):
        for chunk in raw_chunks:
            chunks.append(validator.validate(chunk).items)
    assert validator.schema is not None
    return validator.schema, chunks


def with_pandera(schema: pa.DataFrameSchema, chunks: list[pd.DataFrame]) -> int:
    failures = 0
    for chunk in chunks:
        try:
            schema.validate(chunk, lazy=True, inplace=True)
        except pandera.errors.SchemaErrors as exc:
            failures += len(exc.failure_cases)
    return failures


def with_masks(schema: pa.DataFrameSchema, chunks: list[pd.DataFrame]) -> int:
    failures = 0
    for chunk in chunks:
        for name, column in schema.columns.items():
            for check in column.checks:
                mask = check._check_fn(chunk[name])
                failures += len(np.flatnonzero(~mask.to_numpy(dtype=bool)))
        for check in schema.checks:
            mask = check._check_fn(chunk)
            failures += len(np.flatnonzero(~mask.to_numpy(dtype=bool)))
    return failures


def best_of(repeat: int, run: object, *args: object) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run(*args)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--channel", default="tiktok")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    schema, chunks = prepared_chunks(args.path, args.channel)
    masks = best_of(args.repeat, with_masks, schema, chunks)
    checked = best_of(args.repeat, with_pandera, schema, chunks)
    rows = sum(len(c) for c in chunks)
    print(f"{rows:,} rows, {len(chunks)} chunks: pandera {checked:.2f} s, masks {masks:.2f} s, "
          f"ratio {checked / masks:.2f}")


if __name__ == "__main__":
    main()
