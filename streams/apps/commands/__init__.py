"""One module per ``nudge`` command; see ``streams.apps.cli``."""
