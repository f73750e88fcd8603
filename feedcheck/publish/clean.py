"""The cleaned catalog: the items a channel accepts, with accepted alternative spellings made canonical.

Items with error findings are left out; the rest keep their values exactly,
trimmed, except enumerations written in an accepted alternative spelling
(``in_stock``, ``backorder``), which get the channel's own spelling.  The
validator has already counted such values in ``feed.alternative_spelling``
and recorded each trim as ``item.whitespace_trimmed``, so nothing changes silently.

Cleaned chunks are spooled to Parquet files in a work folder, so a catalog of
millions of items is written out later without being held in memory, with
every column any item had (XML items need not all have the same fields).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from feedcheck.rules.series import normalise_token
from feedcheck.rules.validate import ChunkVerdict, FeedValidator


def _spellings(allowed: list[str], alternatives: Mapping[str, str]) -> dict[str, str]:
    """Normalised token → the channel's spelling, for every accepted way of writing a value."""
    norm = normalise_token(pd.Series(list(allowed) + list(alternatives), dtype="str")).tolist()
    return dict(zip(norm, list(allowed) + list(alternatives.values())))


class Cleaner:
    """Turns a validator's verdicts into cleaned chunks (accepted items, canonical spellings)."""

    def __init__(self, validator: FeedValidator) -> None:
        self.validator = validator
        self._enums: dict[str, dict[str, str]] | None = None

    def clean(self, verdict: ChunkVerdict) -> pd.DataFrame:
        """The accepted items of one chunk, with the feed's own columns only."""
        items = verdict.items.loc[~verdict.errors, [c for c in verdict.columns if c in verdict.items.columns]]
        for name, spelling in self._enum_spellings().items():
            if name in items.columns and len(items):
                mapped = normalise_token(items[name]).map(spelling)
                items = items.assign(**{name: mapped.where(mapped.notna(), items[name]).astype("str")})
        return items

    def _enum_spellings(self) -> dict[str, dict[str, str]]:
        if self._enums is None:
            schema = self.validator.schema
            self._enums = {} if schema is None else {
                name: _spellings(check.statistics["allowed"], check.statistics["alternatives"])
                for name, column in schema.columns.items()
                for check in column.checks
                if check.name == "canonical_spelling"
            }
        return self._enums


class CatalogSpool:
    """Cleaned chunks parked on disk until the quality gate has decided; then read back in order."""

    def __init__(self, workdir: Path | None = None) -> None:
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix=".feedcheck-spool-", dir=workdir))
        self.columns: list[str] = []
        self.items = 0
        self._parts: list[Path] = []

    def add(self, chunk: pd.DataFrame) -> None:
        """Park one cleaned chunk (all string columns)."""
        self.columns.extend(c for c in chunk.columns if c not in self.columns)
        if chunk.empty:
            return
        part = self.folder / f"part-{len(self._parts):06d}.parquet"
        table = pa.Table.from_pandas(chunk.reset_index(drop=True), preserve_index=False)
        pq.write_table(table, part)
        self._parts.append(part)
        self.items += len(chunk)

    @property
    def parts(self) -> list[Path]:
        """The Parquet files holding the parked chunks, in order."""
        return list(self._parts)

    def chunks(self) -> Iterator[pd.DataFrame]:
        """The parked chunks in order, each with every column seen (absent values empty)."""
        for part in self._parts:
            frame = pq.read_table(part).to_pandas()
            yield frame.reindex(columns=self.columns, fill_value="").astype("str")

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
