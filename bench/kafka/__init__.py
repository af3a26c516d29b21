"""``python -m bench kafka``: the worker against a real broker it starts itself."""
