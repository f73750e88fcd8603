"""The soak: a fleet of feeds on a production set-up (PostgreSQL, a Prefect server, ``feedcheck serve``) for a
while, through faults, and the checks that nothing was lost. Run it with ``python -m bench.soak``."""
