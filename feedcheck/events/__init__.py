"""Purchase events: reading logs of every shape, the rules per event, deduplication as the platforms do it, and
reconciling content ids with the catalog."""

import feedcheck.events.codes  # noqa: F401  (declares the finding codes this room raises)
