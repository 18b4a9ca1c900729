"""Differential privacy for the analyst API: mechanisms, templates, ledger and answer cache."""
