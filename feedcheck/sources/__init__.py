"""Where a feed comes from: fetching it (files, HTTP(S) with caps, retries and conditional requests), decoding
its bytes (gzip, encodings, sniffing) and masking the secrets in its address."""

import feedcheck.sources.codes  # noqa: F401  (declares the finding codes this room raises)
