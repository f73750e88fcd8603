"""A channel's attribute register: every attribute its specification lists, checked or not.

The register is a tab-separated file beside the channel's schema (``schemas/<channel>_attributes.tsv``),
written by the team from the channel's help pages: the attribute, the section of the specification it is
in, whether it is required, optional or required only under a condition, how often it may repeat, the help
page, a note in a line, and for an attribute feedcheck checks on its own a valid and an invalid example (the
tests check that the one passes and the other fails).  It says which fields the channel knows (a field it
lists is never "unknown"), and :mod:`feedcheck.reports.codes` writes the channel's coverage table from it.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

REQUIREMENTS = ("required", "conditional", "optional")
_COLUMNS = ["attribute", "section", "requirement", "repeats", "source", "note", "valid", "invalid"]


@dataclass(frozen=True)
class Attribute:
    """One attribute of a channel's specification."""

    name: str
    section: str
    requirement: str  # one of REQUIREMENTS
    repeats: str  # how many values it takes: "1", a number, or "unlimited"
    source: str  # the help page that specifies it
    note: str
    valid: str = ""  # a value the channel takes, and one it does not, for an attribute checked on its own
    invalid: str = ""


@functools.cache
def register(channel: str) -> dict[str, Attribute]:
    """The attributes of ``channel``'s specification, in the order of the register; empty when it has none.

    Raises:
        ValueError: the register's columns or a requirement are not what this module reads.
    """
    name = f"{channel}_attributes.tsv"
    file = resources.files("feedcheck.schemas").joinpath(name)
    if not file.is_file():
        return {}
    with file.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows)
        if header != _COLUMNS:
            raise ValueError(f"{name}: the columns must be {', '.join(_COLUMNS)}, not {', '.join(header)}")
        attributes = [Attribute(*row) for row in rows]
    unknown = sorted({a.requirement for a in attributes} - set(REQUIREMENTS))
    if unknown:
        raise ValueError(f"{name}: requirement must be one of {', '.join(REQUIREMENTS)}, not {', '.join(unknown)}")
    return {attribute.name: attribute for attribute in attributes}
