"""One module per Kafka API key, each with its supported version range."""
