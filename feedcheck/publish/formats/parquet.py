"""Parquet catalogs: one string column per field, zstd-compressed, for warehouses and data tools."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from feedcheck.findings import FindingLog

if TYPE_CHECKING:
    from feedcheck.publish.clean import CatalogSpool


def write_parquet(spool: CatalogSpool, path: Path, names: dict[str, str], log: FindingLog) -> None:
    schema = pa.schema([(names[c], pa.string()) for c in spool.columns])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for chunk in spool.chunks():
            table = pa.Table.from_pandas(chunk.rename(columns=names), schema=schema, preserve_index=False)
            writer.write_table(table)
