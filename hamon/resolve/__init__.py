"""Resolve (stage 3): the inventory, and which pair each event belongs to."""
