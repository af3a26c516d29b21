"""Learning and deciding, pure compute: catalog, scorers, bandit policies, the step."""
