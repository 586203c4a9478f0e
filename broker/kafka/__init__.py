"""The Kafka wire-protocol listener: framing, headers, kio codec, one module
per API key (see registry.py for the served keys and versions)."""
