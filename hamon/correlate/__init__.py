"""The correlator: per pair, a pure state machine over events (see machine.py)."""
