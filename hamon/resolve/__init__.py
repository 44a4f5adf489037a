"""Resolve (stage 3): the inventory and the other configuration files, and which pair each event belongs to."""
