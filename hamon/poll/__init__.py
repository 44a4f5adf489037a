"""CLI polls of the units: `show failover` output parsed with TextFSM, and made into events."""
