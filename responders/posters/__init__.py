"""Posters: one module per platform, all the same shape (see base.py)."""
