"""The running service: settings, wire schemas, Kafka/Faust worker, metrics, CLI."""
