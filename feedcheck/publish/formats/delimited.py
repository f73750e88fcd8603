"""CSV and TSV catalogs: every field quoted, UTF-8, one header row in the channel's column names."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv

from feedcheck.findings import CODES, FindingLog, make_finding
from feedcheck.readers.fields import ID
from feedcheck.reports.write import FORMULA_START

if TYPE_CHECKING:
    from feedcheck.publish.clean import CatalogSpool


def write_csv(spool: CatalogSpool, path: Path, names: dict[str, str], log: FindingLog) -> None:
    with path.open("wb") as sink:
        _write_delimited(spool, sink, names, ",", log)


def write_tsv(spool: CatalogSpool, path: Path, names: dict[str, str], log: FindingLog) -> None:
    with path.open("wb") as sink:
        _write_delimited(spool, sink, names, "\t", log)


def _write_delimited(spool: CatalogSpool, sink: BinaryIO, names: dict[str, str], delimiter: str,
                     log: FindingLog) -> None:
    """Every field quoted, quotes doubled: a lone \\r left bare would read as a line end.

    Arrow's writer produces the bytes ``csv.writer(quoting=QUOTE_ALL)`` would,
    without turning a million rows into Python tuples.
    """
    text = io.TextIOWrapper(sink, encoding="utf-8", newline="", write_through=True)
    csv.writer(text, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(
        [names[c] for c in spool.columns])
    text.flush()
    text.detach()
    options = pa_csv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="all_valid")
    for chunk in spool.chunks():
        _warn_formulas(chunk, log)
        pa_csv.write_csv(pa.Table.from_pandas(chunk, preserve_index=False), sink, options)


def _warn_formulas(chunk: Any, log: FindingLog) -> None:
    """Values a spreadsheet would run as a formula stay as they are (platforms read them), with a warning."""
    code = "publish.formula_value"
    risky: list[tuple[str, Any]] = []  # column, row
    for column in chunk.columns:
        values = chunk[column]
        flagged = values.str.startswith(FORMULA_START).to_numpy()
        if flagged.any():
            numbers = values[flagged].str.fullmatch(r"-?[0-9]+(\.[0-9]+)?").to_numpy()
            risky += [(column, row) for row in values.index[flagged][~numbers]]
    log.add_each(code, CODES[code].severity, risky, lambda cell: make_finding(
        code, item_id=str(chunk.at[cell[1], ID]) if ID in chunk.columns else "", field=cell[0],
        value=str(chunk.at[cell[1], cell[0]])))
