"""Google's product taxonomy, shipped with feedcheck: what a ``google_product_category`` names, and what it
could have meant.

The file (``data/google-product-taxonomy-with-ids.en-US.txt``) is Google's own download, one
``id - Path > To > Leaf`` a line under a version line; 2021-09-21 is the newest Google has published.  A
category is an id or an exact path (spaces around ``>`` do not matter).  A value that is neither gets
suggestions: the path it misspells, or the paths whose names contain it.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from importlib import resources

FILE = "google-product-taxonomy-with-ids.en-US.txt"
_LINE = re.compile(r"(\d+) - (.+)")
_SEPARATOR = re.compile(r"\s*>\s*")
_SUGGESTIONS = 3


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: there is one per process
class Taxonomy:
    """The categories by id and by path, and each category's ancestors (itself included)."""

    version: str
    paths: dict[int, str]
    ids: dict[str, int]
    lineage: dict[int, frozenset[int]]

    def category_of(self, value: str) -> int | None:
        """The id that ``value`` (an id or an exact path) names; ``None`` when it names none."""
        text = value.strip()
        if text.isascii() and text.isdigit():
            number = int(text[:12])  # ids are short; a longer run of digits is no id (and int() refuses 4,300)
            return number if len(text) <= 12 and number in self.paths else None
        return self.ids.get(_SEPARATOR.sub(" > ", text))

    def within(self, category: int | None, roots: frozenset[int]) -> bool:
        """Whether ``category`` is one of ``roots`` or below one of them."""
        return category is not None and not roots.isdisjoint(self.lineage[category])

    def suggest(self, value: str) -> list[str]:
        """Paths ``value`` may have meant: the one it misspells, else those whose names contain it."""
        return list(_suggestions(self, value.strip()))


@functools.cache
def google_taxonomy() -> Taxonomy:
    """The taxonomy shipped with feedcheck, read once."""
    text = resources.files("feedcheck.rules").joinpath("data", FILE).read_text(encoding="utf-8")
    head, *lines = text.splitlines()
    paths = {int(m[1]): m[2] for m in map(_LINE.fullmatch, lines) if m}
    ids = {path: number for number, path in paths.items()}
    lineage = {number: frozenset(ids[" > ".join(path.split(" > ")[:depth])] for depth in
                                 range(1, path.count(" > ") + 2)) for number, path in paths.items()}
    return Taxonomy(version=head.partition(":")[2].strip(), paths=paths, ids=ids, lineage=lineage)


@functools.lru_cache(maxsize=4096)  # a feed repeats its wrong categories: each is looked at once
def _suggestions(taxonomy: Taxonomy, value: str) -> tuple[str, ...]:
    folded = _SEPARATOR.sub(" > ", value).casefold().replace(" and ", " & ")
    exact = [path for path in taxonomy.ids if path.casefold() == folded]
    if exact:
        return tuple(exact)
    if ">" in value:
        depth = value.count(">")
        near = [path for path in taxonomy.ids if abs(path.count(">") - depth) <= 1]
        return tuple(difflib.get_close_matches(value, near, n=1, cutoff=0.8))
    containing = [path for path in taxonomy.ids if folded in path.rpartition(" > ")[2].casefold()]
    containing = containing or [path for path in taxonomy.ids if folded in path.casefold()]
    return tuple(sorted(containing, key=lambda path: (path.rpartition(" > ")[2].casefold() != folded,
                                                      path.count(">"), len(path)))[:_SUGGESTIONS])
