"""Purchase events: reading logs of every shape, the rules per event, deduplication as the platforms do it, and
reconciling content ids with the catalog."""
