"""Airlock's daemon: everything that awaits (I/O, identity, policy, approvals, recording)."""

__version__ = "0.1.0.dev0"
