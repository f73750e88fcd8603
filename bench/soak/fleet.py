"""The soak's fleet: feeds across the three channels, every format and gzip, each with a way of misbehaving,
and the feeds file that serves them on a schedule.

A feed's behaviour is what its host does to it over the soak (see :mod:`bench.soak.hosts`):

- ``steady``: the same bytes every time, with an ETag, so most runs are conditional and skipped as unchanged;
- ``flaky``: 503 for a while, then well again;
- ``drip``: the body arrives slowly, in pieces;
- ``truncates``: no ETag, and every second answer stops halfway through the declared length;
- ``shrinks``: from some point on, half of the items are gone (the gate must refuse it and keep the last good
  catalog);
- ``changes``: other prices on every answer, so every run publishes;
- ``vanishes``: 404 for a while, then back.

Some feeds also have an event log that grows while the soak runs, and some write to a small file system
that the soak fills up for a while.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

from bench import generate

BEHAVIOURS = ("steady", "flaky", "drip", "truncates", "shrinks", "changes", "vanishes", "steady", "small-disk",
              "steady")
# (channel, format, gzipped): every channel, every format, gzip on both kinds of text.
KINDS = (("tiktok", "csv", False), ("google", "rss", False), ("meta", "tsv", False), ("tiktok", "tsv", True),
         ("google", "atom", True), ("meta", "csv", False), ("google", "rss", True), ("tiktok", "csv", True))
# The cleaned catalog is published in a format of its own for each kind of source.
_FORMATS = {"csv": "csv", "tsv": "tsv", "rss": "xml", "atom": "parquet"}


@dataclass(frozen=True)
class Feed:
    """One feed of the fleet."""

    number: int
    items: int

    @property
    def name(self) -> str:
        return f"soak-{self.number:03d}-{self.behaviour}"

    @property
    def behaviour(self) -> str:
        behaviour = BEHAVIOURS[self.number % len(BEHAVIOURS)]
        return "steady" if behaviour == "small-disk" else behaviour

    @property
    def small_disk(self) -> bool:
        return BEHAVIOURS[self.number % len(BEHAVIOURS)] == "small-disk"

    @property
    def events(self) -> bool:
        return self.number % 7 == 0

    @property
    def channel(self) -> str:
        return KINDS[self.number % len(KINDS)][0]

    @property
    def kind(self) -> str:
        return KINDS[self.number % len(KINDS)][1]

    @property
    def gzipped(self) -> bool:
        return KINDS[self.number % len(KINDS)][2]

    @property
    def path(self) -> str:
        """Where its host serves it."""
        return f"/feeds/{self.name}.{self.kind}" + (".gz" if self.gzipped else "")

    def body(self, seed: int, items: int | None = None) -> bytes:
        """The feed's bytes with the items of ``seed`` (``items`` of them, all by default)."""
        data = generate.feed_text(self.kind, self.items if items is None else items, seed).encode("utf-8")
        return gzip.compress(data, compresslevel=1, mtime=0) if self.gzipped else data


def fleet(size: int, items: int) -> list[Feed]:
    return [Feed(number, items) for number in range(size)]


def feeds_file(feeds: list[Feed], host: str, folder: Path, small_disk: Path, interval: int) -> str:
    """The feeds file (TOML) of the fleet: each feed from ``host`` on its :func:`schedule`, its output in
    ``folder`` (or on the small file system), its event log in ``folder/events``."""
    lines = ['[defaults]', f'out = "{folder / "out"}"', '',
             '[defaults.gate]', 'max_drop = 0.2', 'keep = 3', '',
             '[defaults.alerts]', 'slack_webhook = "env:SOAK_SLACK_WEBHOOK"', '']
    for feed in feeds:
        lines += ["[[feed]]", f'name = "{feed.name}"', f'channel = "{feed.channel}"',
                  f'source = "{host}{feed.path}"', f'format = "{_FORMATS[feed.kind]}"',
                  f"schedule = {schedule(feed, interval)}"]
        if feed.small_disk:
            lines.append(f'out = "{small_disk / feed.name}"')
        if feed.events:
            lines.append(f'events = ["{event_log(folder, feed)}"]')
        lines.append("")
    return "\n".join(lines)


def schedule(feed: Feed, interval: int) -> str:
    """Every ``interval`` seconds; where that is several minutes, the feeds take turns minute by minute (as a
    fleet's owners spread their cron schedules), rather than all starting on the same second."""
    minutes = interval // 60
    if interval % 60 or minutes < 2 or 60 % minutes:
        return f"{{ interval = {interval} }}"
    # The turn comes from the feed's number past its behaviour's, so that each behaviour has feeds on every
    # turn (the number's last digit picks the behaviour).
    return f'{{ cron = "{feed.number // len(BEHAVIOURS) % minutes}-59/{minutes} * * * *" }}'


def event_log(folder: Path, feed: Feed) -> Path:
    return folder / "events" / f"{feed.name}.jsonl"
