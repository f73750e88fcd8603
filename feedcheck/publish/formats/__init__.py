"""The formats a cleaned catalog is published in: one module per format, one entry per format in :data:`FORMATS`.

A writer takes the cleaned items, the path to write, the channel's column names
and the run's log (for what a format cannot hold, or a cell a spreadsheet would
run); the publish step fsyncs the file and makes it current.
"""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from feedcheck.findings import FindingLog

if TYPE_CHECKING:
    from feedcheck.publish.clean import CatalogSpool


@dataclass(frozen=True)
class Format:
    """A published catalog's file extension and its writer, ``module:function``, imported when a catalog is
    written (the writers bring pandas, pyarrow and lxml, which choosing a format does not need)."""

    extension: str
    writer: str

    def write(self, spool: CatalogSpool, path: Path, names: dict[str, str], log: FindingLog) -> None:
        pkgutil.resolve_name(self.writer)(spool, path, names, log)


FORMATS = {
    "csv": Format("csv", "feedcheck.publish.formats.delimited:write_csv"),
    "tsv": Format("tsv", "feedcheck.publish.formats.delimited:write_tsv"),
    "xml": Format("xml", "feedcheck.publish.formats.rss:write_rss"),
    "parquet": Format("parquet", "feedcheck.publish.formats.parquet:write_parquet"),
}
