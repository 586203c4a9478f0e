"""`rafka groups list | describe G | delete G | reset-offsets G --topic T ...`.

Everything goes through confluent-kafka's AdminClient (librdkafka), the way
Kafka's kafka-consumer-groups tool uses Kafka's own admin client: ListGroups,
DescribeGroups, OffsetFetch, ListOffsets, OffsetCommit (alter offsets) and
DeleteGroups reach the group's coordinator over the Kafka listener.

Output per DESIGN.md: `describe --json` gives the coordinator, state,
members (id, instance id, client id, host, assignment) and per partition the
committed offset, the log end and the lag. A failure is one line
`error: KAFKA_ERROR_NAME: message` and exit 1.

reset-offsets follows kafka-consumer-groups: offsets of a group that has
members are never reset (the tool checks the state first; the coordinator
refuses the commit of a non-empty group with UNKNOWN_MEMBER_ID anyway, so a
member that joins in between still wins). `--to-offset` is clamped into
[log start, log end] of each partition, as Kafka's tool does.
"""

from __future__ import annotations

import json

from rafka.broker.cli.errors import CliError

DEFAULT_TIMEOUT_S = 15.0
INACTIVE_STATES = ("EMPTY", "DEAD", "UNKNOWN")


def register(subparsers, common) -> None:
    p = subparsers.add_parser("groups", parents=[common], help="list, describe, delete consumer groups; reset offsets")
    sub = p.add_subparsers(dest="groups_command", metavar="ACTION", required=True)

    def add(name: str, help_text: str, handler):
        sp = sub.add_parser(name, parents=[common], help=help_text)
        sp.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S, help="overall deadline")
        sp.set_defaults(handler=handler)
        return sp

    add("list", "list groups and their states", handle_list)
    describe = add("describe", "coordinator, state, members, committed offsets and lag of a group", handle_describe)
    describe.add_argument("group")
    delete = add("delete", "delete an empty group and its offsets", handle_delete)
    delete.add_argument("group")
    reset = add("reset-offsets", "set an inactive group's committed offsets of a topic", handle_reset)
    reset.add_argument("group")
    reset.add_argument("--topic", required=True)
    reset.add_argument("--partition", type=int, action="append", default=None,
                       help="only this partition (repeatable; default: every partition)")
    to = reset.add_mutually_exclusive_group(required=True)
    to.add_argument("--to-earliest", action="store_true")
    to.add_argument("--to-latest", action="store_true")
    to.add_argument("--to-offset", type=int, default=None, metavar="O")
    reset.add_argument("--dry-run", action="store_true", help="print the new offsets without committing them")


# -- the client -------------------------------------------------------------


def admin_client(args):
    from confluent_kafka.admin import AdminClient

    from rafka.broker.client.kafka_clients import QUIET_LOG_LEVEL, bootstrap_servers
    from rafka.netproto.addresses import AddressError

    try:
        servers = bootstrap_servers(args.bootstrap)
    except AddressError as exc:
        raise CliError("INVALID_ARGUMENTS", str(exc), exit_code=2) from None
    # Never create a topic by asking about it (librdkafka's default outside consumers).
    return AdminClient({"bootstrap.servers": servers, "allow.auto.create.topics": False, "log_level": QUIET_LOG_LEVEL,
                        "socket.timeout.ms": max(1000, int(args.timeout_s * 1000))})


def kafka_error(exc: BaseException) -> CliError:
    """A librdkafka failure (KafkaException or KafkaError) as a CliError."""
    from confluent_kafka import KafkaError

    from rafka.broker.client.kafka_clients import error_code_name

    err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    if err is None:
        return CliError(type(exc).__name__, str(exc) or type(exc).__name__)
    return CliError(error_code_name(err), err.str())


def result(future, timeout_s: float):
    from confluent_kafka import KafkaException

    try:
        return future.result(timeout=timeout_s)
    except KafkaException as exc:
        raise kafka_error(exc) from None
    except TimeoutError:
        raise CliError("REQUEST_TIMED_OUT", f"no answer within {timeout_s:g} s") from None


def state_name(state) -> str:
    """ConsumerGroupState.STABLE -> "STABLE" (librdkafka's names)."""
    return getattr(state, "name", str(state)).upper()


def topic_partitions(admin, topic: str, timeout_s: float) -> list[int]:
    from confluent_kafka import KafkaException

    from rafka.broker.client.kafka_clients import error_code_name

    try:
        meta = admin.list_topics(topic, timeout=timeout_s)
    except KafkaException as exc:
        raise kafka_error(exc) from None
    t = meta.topics.get(topic)
    if t is None or t.error is not None:
        code = error_code_name(t.error) if t is not None and t.error is not None else "UNKNOWN_TOPIC_OR_PARTITION"
        raise CliError(code, f"topic {topic!r} does not exist")
    return sorted(t.partitions)


def list_offsets(admin, tps: list[tuple[str, int]], spec: str, timeout_s: float) -> dict[tuple[str, int], int]:
    """ListOffsets of many partitions: spec "latest" (log end) or "earliest"."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import OffsetSpec

    if not tps:
        return {}
    make = OffsetSpec.latest if spec == "latest" else OffsetSpec.earliest
    futures = admin.list_offsets({TopicPartition(t, p): make() for t, p in tps}, request_timeout=timeout_s)
    return {(tp.topic, tp.partition): result(f, timeout_s).offset for tp, f in futures.items()}


def describe_group(admin, group: str, timeout_s: float):
    futures = admin.describe_consumer_groups([group], request_timeout=timeout_s)
    return result(futures[group], timeout_s)


def committed_offsets(admin, group: str, timeout_s: float) -> dict[tuple[str, int], int]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=timeout_s)
    answer = result(futures[group], timeout_s)
    out = {}
    for tp in answer.topic_partitions or ():
        if tp.error is not None:
            raise kafka_error(Exception(tp.error))
        if tp.offset >= 0:
            out[(tp.topic, tp.partition)] = tp.offset
    return out


# -- describe ---------------------------------------------------------------


def describe_to_dict(desc, committed: dict, log_ends: dict) -> dict:
    """The JSON shape of `groups describe` (pure: tested without a cluster)."""
    members = []
    owner: dict[tuple[str, int], str] = {}
    for m in desc.members:
        assigned = sorted((tp.topic, tp.partition) for tp in (m.assignment.topic_partitions if m.assignment else ()))
        for tp in assigned:
            owner[tp] = m.member_id
        members.append({"member_id": m.member_id, "group_instance_id": m.group_instance_id,
                        "client_id": m.client_id, "host": m.host,
                        "assignment": [{"topic": t, "partition": p} for t, p in assigned]})
    partitions = []
    for tp in sorted(set(committed) | set(owner)):
        c = committed.get(tp)
        end = log_ends.get(tp)
        lag = end - c if c is not None and end is not None and end >= 0 else None
        partitions.append({"topic": tp[0], "partition": tp[1], "committed_offset": c, "log_end_offset": end,
                           "lag": lag, "member_id": owner.get(tp)})
    coord = desc.coordinator
    return {
        "group": desc.group_id,
        "state": state_name(desc.state),
        "coordinator": None if coord is None else {"id": coord.id, "host": coord.host, "port": coord.port},
        "assignor": desc.partition_assignor or None,
        "simple": bool(desc.is_simple_consumer_group),
        "members": members,
        "partitions": partitions,
    }


def render_describe(d: dict) -> str:
    coord = d["coordinator"]
    coord_text = "none" if coord is None else f"{coord['id']} ({coord['host']}:{coord['port']})"
    lines = [f"Group: {d['group']}  State: {d['state']}  Coordinator: {coord_text}  "
             f"Assignor: {d['assignor'] or '-'}  Members: {len(d['members'])}"]
    for m in d["members"]:
        assigned = ",".join(f"{a['topic']}-{a['partition']}" for a in m["assignment"]) or "-"
        lines.append(f"  Member: {m['member_id']}  ClientId: {m['client_id']}  Host: {m['host'] or '-'}  "
                     f"Assignment: {assigned}")
    if d["partitions"]:
        lines.append(f"  {'TOPIC':<24} {'PARTITION':>9} {'COMMITTED':>12} {'LOG-END':>12} {'LAG':>10}  MEMBER")

    def show(v):
        return "-" if v is None else str(v)

    for p in d["partitions"]:
        lines.append(f"  {p['topic']:<24} {p['partition']:>9} {show(p['committed_offset']):>12} "
                     f"{show(p['log_end_offset']):>12} {show(p['lag']):>10}  {p['member_id'] or '-'}")
    return "\n".join(lines)


def handle_describe(args) -> int:
    admin = admin_client(args)
    desc = describe_group(admin, args.group, args.timeout_s)
    committed = committed_offsets(admin, args.group, args.timeout_s)
    if state_name(desc.state) == "DEAD" and not committed:
        raise CliError("GROUP_ID_NOT_FOUND", f"group {args.group!r} does not exist")
    assigned = {(tp.topic, tp.partition) for m in desc.members
                for tp in (m.assignment.topic_partitions if m.assignment else ())}
    log_ends = list_offsets(admin, sorted(set(committed) | assigned), "latest", args.timeout_s)
    d = describe_to_dict(desc, committed, log_ends)
    print(json.dumps(d) if args.json else render_describe(d))
    return 0


# -- list / delete ----------------------------------------------------------


def handle_list(args) -> int:
    admin = admin_client(args)
    answer = result(admin.list_consumer_groups(request_timeout=args.timeout_s), args.timeout_s)
    if answer.errors:
        raise kafka_error(Exception(answer.errors[0]))
    groups = sorted(({"group": g.group_id, "state": state_name(g.state), "simple": bool(g.is_simple_consumer_group)}
                     for g in answer.valid), key=lambda g: g["group"])
    if args.json:
        print(json.dumps(groups))
    else:
        for g in groups:
            print(f"{g['group']}\t{g['state']}")
    return 0


def handle_delete(args) -> int:
    admin = admin_client(args)
    futures = admin.delete_consumer_groups([args.group], request_timeout=args.timeout_s)
    result(futures[args.group], args.timeout_s)
    if args.json:
        print(json.dumps({"group": args.group, "deleted": True}))
    else:
        print(f"deleted group {args.group}")
    return 0


# -- reset-offsets ----------------------------------------------------------


def target_offsets(how: str, to_offset: int | None, starts: dict, ends: dict) -> dict[tuple[str, int], int]:
    """The new committed offset per partition (pure): earliest/latest, or
    `to_offset` clamped into [log start, log end] like Kafka's tool."""
    out = {}
    for tp in sorted(ends):
        if how == "earliest":
            out[tp] = starts[tp]
        elif how == "latest":
            out[tp] = ends[tp]
        else:
            out[tp] = min(max(to_offset, starts[tp]), ends[tp])
    return out


def refuse_if_active(desc, group: str) -> None:
    state = state_name(desc.state)
    if state not in INACTIVE_STATES or desc.members:
        raise CliError("UNKNOWN_MEMBER_ID",
                       f"group {group!r} is active (state {state}, {len(desc.members)} members): offsets can "
                       "only be reset while the group has no members")


def handle_reset(args) -> int:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    if args.to_offset is not None and args.to_offset < 0:
        raise CliError("INVALID_ARGUMENTS", "--to-offset must be >= 0", exit_code=2)
    how = "earliest" if args.to_earliest else "latest" if args.to_latest else "offset"
    admin = admin_client(args)
    partitions = topic_partitions(admin, args.topic, args.timeout_s)
    if args.partition is not None:
        missing = sorted(set(args.partition) - set(partitions))
        if missing:
            raise CliError("UNKNOWN_TOPIC_OR_PARTITION", f"{args.topic} has no partition {missing[0]}")
        partitions = sorted(set(args.partition))
    refuse_if_active(describe_group(admin, args.group, args.timeout_s), args.group)
    tps = [(args.topic, p) for p in partitions]
    ends = list_offsets(admin, tps, "latest", args.timeout_s)
    starts = list_offsets(admin, tps, "earliest", args.timeout_s)
    targets = target_offsets(how, args.to_offset, starts, ends)
    if not args.dry_run:
        request = ConsumerGroupTopicPartitions(args.group, [TopicPartition(t, p, o) for (t, p), o in targets.items()])
        futures = admin.alter_consumer_group_offsets([request], request_timeout=args.timeout_s)
        answer = result(futures[args.group], args.timeout_s)
        for tp in answer.topic_partitions or ():
            if tp.error is not None:
                raise kafka_error(Exception(tp.error))
    rows = [{"topic": t, "partition": p, "offset": o} for (t, p), o in targets.items()]
    if args.json:
        print(json.dumps({"group": args.group, "dry_run": args.dry_run, "offsets": rows}))
    else:
        for r in rows:
            print(f"{r['topic']}\t{r['partition']}\t{r['offset']}")
    return 0
