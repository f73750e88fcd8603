"""The channels' rules: the registered checks the schemas in ``schemas/`` are made of, the channels and their
severities, and validation (a feed's chunks against a channel's schema, into findings and verdicts)."""

import feedcheck.rules.codes  # noqa: F401  (declares the finding codes this room raises)
