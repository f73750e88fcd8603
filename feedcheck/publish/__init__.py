"""Publishing a cleaned catalog: cleaning the accepted items, the quality gate, the atomic publish, and the
state runs leave in a feed's folder (history, snapshots of items, the last run)."""

import feedcheck.publish.codes  # noqa: F401  (declares the finding codes this room raises)
