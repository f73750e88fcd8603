"""A channel: its schema (built from ``schemas/<name>.py``) and limits."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from feedcheck.errors import ConfigError
from feedcheck.findings import CODES, Severity
from feedcheck.readers.fields import KNOWN_FIELDS, canonical, json_path_base
from feedcheck.rules.attributes import Attribute, register

if TYPE_CHECKING:  # the schema modules import pandera when a channel is used (see get_channel)
    import pandera.pandas as pa

CHANNEL_NAMES = ("tiktok", "google", "meta")


@dataclass(frozen=True)
class SchemaOptions:
    """What a schema is built from: length limits, catalog currency, the time for expiry checks and the
    countries the catalog is advertised in."""

    limits: Mapping[str, int]
    currency: str | None
    now: str
    countries: tuple[str, ...] = ()


@dataclass(frozen=True)
class Channel:
    """One ad channel's catalog rules.

    ``limits`` are the length limits the channel does not publish officially
    (overridable per run); ``catalog_currency`` says whether every price must
    be in one currency.  How much each finding matters on the channel is
    declared with its code (:func:`feedcheck.findings.code` ``on=``).
    """

    name: str
    title: str
    build: Callable[[SchemaOptions], pa.DataFrameSchema]
    limits: Mapping[str, int] = field(default_factory=dict)
    catalog_currency: bool = False
    json_paths: bool = False  # nested values may come as JSON-path headers (``video[0].url``)
    variant_fields: tuple[str, ...] = ()  # what every variant of an item group must fill if one does

    def severity_of(self, code: str) -> Severity:
        return CODES[code].severity_on(self.name)

    @property
    def attributes(self) -> dict[str, Attribute]:
        """The attributes of the channel's specification (its register), checked or not; empty if none."""
        return register(self.name)

    @property
    def columns(self) -> dict[str, Attribute]:
        """The register's attributes by the name a column has once read (TikTok's ``sku_id`` is ``id``)."""
        return {canonical(name): attribute for name, attribute in self.attributes.items()}

    def knows(self, name: str) -> bool:
        """Whether the column ``name`` is an attribute of the channel: in its register (or, without one, in any
        channel's), or a JSON-path part of one where the channel takes them."""
        known = self.columns or KNOWN_FIELDS
        base = json_path_base(name) if self.json_paths else None
        return name in known or base in known

    def source_of(self, code: str) -> str:
        """The channel's help page or specification section the rule behind ``code`` follows; empty if none."""
        return CODES[code].sources.get(self.name, "")

    def schema(self, *, currency: str | None, now: str, limits: Mapping[str, int] | None = None,
               countries: tuple[str, ...] = ()) -> pa.DataFrameSchema:
        """Build the pandera schema with the run's options.

        Raises:
            ConfigError: a limit is overridden for a field the channel does not limit.
        """
        unknown = sorted(set(limits or {}) - set(self.limits))
        if unknown:
            raise ConfigError(
                f"No configurable limit for {', '.join(unknown)} on {self.title}; "
                f"configurable: {', '.join(sorted(self.limits))}."
            )
        return self.build(SchemaOptions(limits={**self.limits, **(limits or {})}, currency=currency, now=now,
                                        countries=countries))


def get_channel(name: str) -> Channel:
    """The channel called ``name`` (tiktok, google or meta).

    Raises:
        ConfigError: unknown channel name.
    """
    if name not in CHANNEL_NAMES:
        raise ConfigError(f"Unknown channel '{name}'; choose one of {', '.join(CHANNEL_NAMES)}.")
    module = importlib.import_module(f"feedcheck.schemas.{name}")
    channel: Channel = module.CHANNEL
    return channel
