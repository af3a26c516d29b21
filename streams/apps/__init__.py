"""Applications over the runtime: replay, A/B test, demo, training driver, reports, CLI."""
