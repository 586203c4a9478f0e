"""confluent-kafka (librdkafka) clients for the CLI, configured one way.

Why librdkafka: the CLI's produce and consume take the path users take, with
every codec and the idempotent producer, the way Kafka's console tools are
built on Kafka's own client. This module only builds configurations and
turns librdkafka's errors into one-line CliError-ready (code, message).
"""

from __future__ import annotations

from rafka.netproto.addresses import parse_bootstrap

ACKS = {"all": "all", "-1": "all", "1": "1", "0": "0"}
COMPRESSION = ("none", "gzip", "snappy", "lz4", "zstd")
# librdkafka logs to stderr on its own (connection refusals, "purging unserved
# events" at close, ...); the CLI's contract is one error line, which the
# command prints itself, so only librdkafka's critical messages get through.
QUIET_LOG_LEVEL = 2


def bootstrap_servers(bootstrap: str) -> str:
    """--bootstrap as librdkafka's bootstrap.servers (validated; AddressError)."""
    return ",".join(str(hp) for hp in parse_bootstrap(bootstrap, what="--bootstrap"))


def producer_config(bootstrap: str, *, acks: str, compression: str, timeout_s: float) -> dict:
    """An idempotent producer for acks=all (librdkafka's default there);
    acks 0/1 cannot be idempotent, so idempotence is off for them."""
    acks_value = ACKS[acks]
    return {
        "bootstrap.servers": bootstrap_servers(bootstrap),
        "log_level": QUIET_LOG_LEVEL,
        "acks": acks_value,
        "enable.idempotence": acks_value == "all",
        "compression.type": compression,
        "message.timeout.ms": max(1, int(timeout_s * 1000)),
        "linger.ms": 5,
        "allow.auto.create.topics": False,
    }


def consumer_config(bootstrap: str, *, group: str | None, from_beginning: bool) -> dict:
    """With --group: a group member that commits; without: a standalone
    reader (assign, no commits; librdkafka still wants a group.id)."""
    return {
        "bootstrap.servers": bootstrap_servers(bootstrap),
        "log_level": QUIET_LOG_LEVEL,
        "group.id": group or "rafka-console",
        "enable.auto.commit": group is not None,
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "enable.partition.eof": False,
        "allow.auto.create.topics": False,
    }


def error_code_name(err) -> str:
    """A librdkafka KafkaError as Kafka's error name (UNKNOWN_TOPIC_OR_PART
    -> UNKNOWN_TOPIC_OR_PARTITION, local errors keep their librdkafka name)."""
    name = err.name() if hasattr(err, "name") else str(err)
    name = name.lstrip("_")
    return {"UNKNOWN_TOPIC_OR_PART": "UNKNOWN_TOPIC_OR_PARTITION", "MSG_TIMED_OUT": "REQUEST_TIMED_OUT",
            "TRANSPORT": "NETWORK_EXCEPTION", "ALL_BROKERS_DOWN": "NETWORK_EXCEPTION"}.get(name, name)
