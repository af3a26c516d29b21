"""The running service: stream processor, Kafka I/O, schemas, metrics, settings, broker."""
