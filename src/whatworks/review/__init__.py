"""Systematic reviews: import, deduplication and screening of bibliographic records (no Django)."""
