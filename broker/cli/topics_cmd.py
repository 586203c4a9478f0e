"""`rafka topics create|list|describe|delete|alter`.

Any node can take the request (writes reach the active controller, reads
come from the answering node's image; `--consistent` makes a read
linearizable). Output per DESIGN.md: `--json` gives
`topics list` ["name", ...] and `topics describe` {"name", "configs",
"partitions": [{"partition", "leader", "leader_epoch", "replicas", "isr",
"log_start_offset", "high_watermark", "log_end_offset"}]} (the three
offsets over Kafka only, broker/client/partition_offsets.py; null when the
cluster cannot tell);
a failure is one line with the Kafka error name and a non-zero exit, and a
rejected request changes nothing.

`alter` with both --partitions and --config first validates both changes
(validate_only), then applies them: two entries, but a change the controller
would reject is never half applied.

Transport: the Kafka protocol only (broker/client/kafka_admin.py:
confluent-kafka for writes, kio for reads); a bootstrap where no Kafka
listener answers is NETWORK_EXCEPTION naming it.
"""

from __future__ import annotations

import json

from rafka.broker.cli.errors import CliError

DEFAULT_TIMEOUT_S = 15.0


def register(subparsers, common) -> None:
    p = subparsers.add_parser("topics", parents=[common], help="create, list, describe, delete, alter topics")
    sub = p.add_subparsers(dest="topics_command", metavar="ACTION", required=True)

    def add(name: str, help_text: str, handler):
        sp = sub.add_parser(name, parents=[common], help=help_text)
        sp.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S, help="overall deadline")
        sp.set_defaults(handler=handler)
        return sp

    create = add("create", "create a topic", handle_create)
    create.add_argument("name")
    create.add_argument("--partitions", type=int, required=True)
    create.add_argument("--replication-factor", type=int, required=True)
    create.add_argument("--config", action="append", default=[], metavar="K=V", help="topic config (repeatable)")

    lst = add("list", "list topic names", handle_list)
    lst.add_argument("--consistent", action="store_true", help="linearizable read (ReadIndex barrier)")

    describe = add("describe", "partitions, leaders, ISRs and configs of a topic", handle_describe)
    describe.add_argument("name")
    describe.add_argument("--consistent", action="store_true", help="linearizable read (ReadIndex barrier)")

    delete = add("delete", "delete a topic", handle_delete)
    delete.add_argument("name")

    alter = add("alter", "add partitions or change configs", handle_alter)
    alter.add_argument("name")
    alter.add_argument("--partitions", type=int, default=None, help="new total partition count (only grows)")
    alter.add_argument("--config", action="append", default=[], metavar="K=V", help="set a config (repeatable)")
    alter.add_argument("--delete-config", action="append", default=[], metavar="K",
                       help="remove a config override (repeatable)")


def parse_configs(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError("INVALID_CONFIG", f"--config {item!r}: expected KEY=VALUE", exit_code=2)
        if key in out:
            raise CliError("INVALID_CONFIG", f"--config {key} given twice", exit_code=2)
        out[key] = value.strip()
    return out


def kafka_admin(args):
    """A KafkaAdmin on the bootstrap, once one of its addresses answered as
    a Kafka listener."""
    import trio

    from rafka.broker.cli.quorum_cmd import parse_bootstrap
    from rafka.broker.client.kafka_admin import KafkaAdmin, speaks_kafka

    bootstrap = parse_bootstrap(args.bootstrap)
    if trio.run(speaks_kafka, bootstrap, min(args.timeout_s, 5.0)):
        return KafkaAdmin(bootstrap, args.timeout_s)
    raise CliError("NETWORK_EXCEPTION", f"no Kafka listener answered at {args.bootstrap} "
                   f"within {min(args.timeout_s, 5.0):g}s")


def over_kafka(fn, *fn_args):
    """Call a KafkaAdmin method (a coroutine function runs under trio);
    RafkaError -> CliError."""
    import inspect

    import trio

    from rafka.netproto.errors import RafkaError

    try:
        if inspect.iscoroutinefunction(fn):
            return trio.run(fn, *fn_args)
        return fn(*fn_args)
    except RafkaError as exc:
        raise CliError(exc.code.name, exc.message) from None


def handle_create(args) -> int:
    configs = parse_configs(args.config)
    ka = kafka_admin(args)
    over_kafka(ka.create_topic, args.name, args.partitions, args.replication_factor, configs)
    topic_id = over_kafka(ka.describe_topic, args.name, True)["topic_id"] if args.json else None
    name = args.name
    if args.json:
        print(json.dumps({"name": name, "topic_id": topic_id}))
    else:
        print(f"created topic {name} ({args.partitions} partitions, "
              f"replication factor {args.replication_factor})")
    return 0


def handle_list(args) -> int:
    ka = kafka_admin(args)
    names = over_kafka(ka.list_topics, args.consistent)
    if args.json:
        print(json.dumps(sorted(names)))
    else:
        for name in sorted(names):
            print(name)
    return 0


def render_describe(d: dict) -> str:
    configs = ",".join(f"{k}={v}" for k, v in sorted(d["configs"].items())) or "-"
    lines = [f"Topic: {d['name']}  TopicId: {d['topic_id']}  Partitions: {len(d['partitions'])}  "
             f"Configs: {configs}"]
    for p in d["partitions"]:
        leader = "none" if p["leader"] is None else p["leader"]
        line = (f"  Partition: {p['partition']:<4} Leader: {leader!s:<5} Epoch: {p['leader_epoch']:<4} "
                f"Replicas: {','.join(map(str, p['replicas']))}  Isr: {','.join(map(str, p['isr']))}")
        if "high_watermark" in p:
            line += "".join(f"  {label}: {'-' if p[key] is None else p[key]}" for label, key in (
                ("LogStart", "log_start_offset"), ("HighWatermark", "high_watermark"), ("LogEnd", "log_end_offset")))
        lines.append(line)
    return "\n".join(lines)


def handle_describe(args) -> int:
    from rafka.broker.client.kafka_admin import CLIENT_ID
    from rafka.broker.client.partition_offsets import add_partition_offsets

    ka = kafka_admin(args)
    d = over_kafka(ka.describe_topic, args.name, args.consistent)
    over_kafka(lambda: add_partition_offsets(ka.confluent_admin(), ka.bootstrap, d, client_id=CLIENT_ID,
                                             timeout_s=args.timeout_s))
    print(json.dumps(d) if args.json else render_describe(d))
    return 0


def handle_delete(args) -> int:
    ka = kafka_admin(args)
    over_kafka(ka.delete_topic, args.name)
    print(json.dumps({"name": args.name, "deleted": True}) if args.json else f"deleted topic {args.name}")
    return 0


def handle_alter(args) -> int:
    changes: dict[str, str | None] = dict(parse_configs(args.config))
    for key in args.delete_config:
        if key in changes:
            raise CliError("INVALID_CONFIG", f"{key} both set and deleted", exit_code=2)
        changes[key] = None
    if args.partitions is None and not changes:
        raise CliError("INVALID_ARGUMENTS", "nothing to alter: give --partitions and/or --config",
                       exit_code=2)

    ka = kafka_admin(args)
    if args.partitions is not None and changes:
        # Validate both changes first so a rejected one leaves both unapplied.
        over_kafka(ka.create_partitions, args.name, args.partitions, True)
        over_kafka(ka.alter_configs, args.name, changes, True)
    if changes:
        over_kafka(ka.alter_configs, args.name, changes)
    if args.partitions is not None:
        over_kafka(ka.create_partitions, args.name, args.partitions)
    done = {"name": args.name, "partitions": args.partitions,
            "configs": {k: v for k, v in changes.items()}}
    if args.json:
        print(json.dumps(done))
    else:
        parts = []
        if args.partitions is not None:
            parts.append(f"{args.partitions} partitions")
        parts += [f"{k}={v}" if v is not None else f"-{k}" for k, v in sorted(changes.items())]
        print(f"altered topic {args.name}: {', '.join(parts)}")
    return 0
