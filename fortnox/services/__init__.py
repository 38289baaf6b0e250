"""Fortnox connection lifecycle and tokens."""
