"""The formats a cleaned catalog is published in: one module per format, one entry per format in :data:`FORMATS`.

A writer takes the cleaned items, the path to write, the channel's column names
and the run's log (for what a format cannot hold, or a cell a spreadsheet would
run); the publish step fsyncs the file and makes it current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from feedcheck.findings import FindingLog
from feedcheck.publish.formats.delimited import write_csv, write_tsv
from feedcheck.publish.formats.parquet import write_parquet
from feedcheck.publish.formats.rss import write_rss

if TYPE_CHECKING:
    from feedcheck.publish.clean import CatalogSpool


@dataclass(frozen=True)
class Format:
    """A published catalog's file extension and its writer."""

    extension: str
    write: Callable[[CatalogSpool, Path, dict[str, str], FindingLog], None]


FORMATS = {
    "csv": Format("csv", write_csv),
    "tsv": Format("tsv", write_tsv),
    "xml": Format("xml", write_rss),
    "parquet": Format("parquet", write_parquet),
}
