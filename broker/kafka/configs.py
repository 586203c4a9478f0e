"""Describing configs the way Kafka does: value, source, read-only and
sensitive flags, type, documentation, synonyms.

Topic configs: every key of controller/validation.TOPIC_CONFIGS, the
topic's override (source DYNAMIC_TOPIC_CONFIG) or the default (source
DEFAULT_CONFIG); synonyms list the override then the default. Broker
configs: the node's Kafka settings, static and read-only.
"""

from __future__ import annotations

from rafka.broker.controller.validation import TOPIC_CONFIGS

# Kafka's DescribeConfigs config_source values.
DYNAMIC_TOPIC_CONFIG = 1
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5

# Kafka's ConfigType (DescribeConfigs v3+).
BOOLEAN, STRING, INT, LONG, DOUBLE, LIST = 1, 2, 3, 5, 6, 7
CONFIG_TYPES = {
    "retention.ms": LONG, "retention.bytes": LONG, "segment.ms": LONG, "flush.messages": LONG,
    "flush.ms": LONG, "segment.bytes": INT, "min.insync.replicas": INT, "max.message.bytes": INT,
    "index.interval.bytes": INT, "unclean.leader.election.enable": BOOLEAN, "cleanup.policy": LIST,
    "message.timestamp.type": STRING, "delete.retention.ms": LONG, "min.cleanable.dirty.ratio": DOUBLE,
}
LIST_CONFIGS = frozenset(k for k, t in CONFIG_TYPES.items() if t == LIST)

# Resource types.
TOPIC = 2
BROKER = 4


def _entry(name: str, value: str | None, source: int, *, read_only: bool, synonyms: list[dict],
           config_type: int, doc: str | None) -> dict:
    return {
        "name": name, "value": value, "read_only": read_only, "config_source": source,
        "is_default": source == DEFAULT_CONFIG, "is_sensitive": False, "synonyms": synonyms,
        "config_type": config_type, "documentation": doc,
    }


def topic_entries(overrides: dict[str, str], keys, *, synonyms: bool, documentation: bool) -> list[dict]:
    wanted = sorted(TOPIC_CONFIGS) if keys is None else [k for k in keys if k in TOPIC_CONFIGS]
    out = []
    for key in wanted:
        d = TOPIC_CONFIGS[key]
        syn = []
        if key in overrides:
            value, source = overrides[key], DYNAMIC_TOPIC_CONFIG
            syn.append({"name": key, "value": value, "source": DYNAMIC_TOPIC_CONFIG})
        else:
            value, source = d.default, DEFAULT_CONFIG
        syn.append({"name": key, "value": d.default, "source": DEFAULT_CONFIG})
        out.append(_entry(key, value, source, read_only=False, synonyms=syn if synonyms else [],
                          config_type=CONFIG_TYPES.get(key, STRING), doc=d.doc if documentation else None))
    return out


def broker_settings(node_id: int, config) -> dict[str, tuple[str, int, str]]:
    """Kafka broker config name -> (value, type, doc) from the node's settings."""
    return {
        "broker.id": (str(node_id), INT, "this node's id"),
        "node.id": (str(node_id), INT, "this node's id"),
        "auto.create.topics.enable": (str(config.auto_create_topics).lower(), BOOLEAN,
                                      "Metadata for an unknown topic creates it"),
        "num.partitions": (str(config.default_partitions), INT, "partitions of an auto-created topic"),
        "default.replication.factor": (str(config.default_replication_factor), INT,
                                       "replication factor of an auto-created topic"),
        "socket.request.max.bytes": (str(config.socket_request_bytes_max), INT, "largest request frame"),
        "connections.max.idle.ms": (str(config.connections_idle_ms_max), LONG, "idle connections are closed"),
    }


def broker_entries(node_id: int, config, keys, *, synonyms: bool, documentation: bool) -> list[dict]:
    table = broker_settings(node_id, config)
    wanted = sorted(table) if keys is None else [k for k in keys if k in table]
    out = []
    for key in wanted:
        value, config_type, doc = table[key]
        syn = [{"name": key, "value": value, "source": STATIC_BROKER_CONFIG}] if synonyms else []
        out.append(_entry(key, value, STATIC_BROKER_CONFIG, read_only=True, synonyms=syn,
                          config_type=config_type, doc=doc if documentation else None))
    return out
