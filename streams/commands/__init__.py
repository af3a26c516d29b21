"""One module per ``nudge`` command; see ``streams.cli``."""
