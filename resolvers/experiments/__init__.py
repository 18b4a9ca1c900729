"""Experiments: definitions for marketers, deterministic assignment, exposure logging."""
