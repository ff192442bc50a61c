"""Copies: near-duplicate groups found by searching the live index (``duplicates``).
See docs/duplicates.md.
"""
