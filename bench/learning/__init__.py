"""``python -m bench learning``: the learning benchmark (see :mod:`bench.learning.cli`)."""
