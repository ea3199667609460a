"""Helpers for the CAR-T outcomes book: data contract, statistics, figures,
tables, the reproduction ledger and the synthetic cohorts."""

__version__ = "0.1.0"
