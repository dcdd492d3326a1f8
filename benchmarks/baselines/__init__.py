"""Minimal handlers the cold-start benchmark measures each function against (not packages: each
folder holds an ``app.py``, as a function's CodeUri does)."""
