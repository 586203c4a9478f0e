"""`rafka brokers list [--consistent]`: registered brokers and their state.

JSON per DESIGN.md: [{"node_id", "host", "port", "rack", "fenced"}, ...]
plus "in_controlled_shutdown", "broker_epoch" and "last_heartbeat_ms":
milliseconds since the active controller last heard from the broker, null
when unknown (no live session, or no active controller could be asked;
then broker_epoch and in_controlled_shutdown are null too).

Over the Kafka listener (DescribeCluster v2, fenced brokers included); the
controller-only fields from the active controller's peer listener
(broker/client/kafka_brokers.py).
"""

from __future__ import annotations

import json

from rafka.broker.cli.errors import CliError
from rafka.broker.cli.topics_cmd import DEFAULT_TIMEOUT_S


def register(subparsers, common) -> None:
    p = subparsers.add_parser("brokers", parents=[common], help="registered brokers")
    sub = p.add_subparsers(dest="brokers_command", metavar="ACTION", required=True)
    lst = sub.add_parser("list", parents=[common], help="id, address, rack, fenced/unfenced, last heartbeat")
    lst.add_argument("--consistent", action="store_true", help="linearizable read (ReadIndex barrier)")
    lst.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S, help="overall deadline")
    lst.set_defaults(handler=handle_list)


def broker_to_dict(b) -> dict:
    return {
        "node_id": b.node_id,
        "host": b.host,
        "port": b.port,
        "rack": b.rack,
        "fenced": b.fenced,
        "in_controlled_shutdown": b.in_controlled_shutdown,
        "broker_epoch": b.broker_epoch,
        "last_heartbeat_ms": b.last_heartbeat_ms,
    }


def render_brokers(rows: list[dict]) -> str:
    lines = [f"{'ID':<4} {'ADDRESS':<22} {'RACK':<8} {'STATE':<10} {'EPOCH':<6} LAST HEARTBEAT"]
    for r in rows:
        state = "shutdown" if r["in_controlled_shutdown"] else ("fenced" if r["fenced"] else "unfenced")
        ago = "-" if r["last_heartbeat_ms"] is None else f"{r['last_heartbeat_ms']} ms ago"
        epoch = "-" if r["broker_epoch"] is None else r["broker_epoch"]
        lines.append(f"{r['node_id']:<4} {r['host'] + ':' + str(r['port']):<22} {r['rack'] or '-':<8} "
                     f"{state:<10} {epoch:<6} {ago}")
    return "\n".join(lines)


def handle_list(args) -> int:
    import trio

    from rafka.broker.cli.quorum_cmd import parse_bootstrap
    from rafka.broker.client.kafka_brokers import BrokersUnavailable, list_brokers
    from rafka.netproto.errors import RafkaError

    bootstrap = parse_bootstrap(args.bootstrap)
    try:
        rows = trio.run(list_brokers, bootstrap, args.timeout_s, args.consistent)
    except RafkaError as exc:
        raise CliError(exc.code.name, exc.message) from None
    except BrokersUnavailable as exc:
        raise CliError("NETWORK_EXCEPTION", f"no Kafka listener answered DescribeCluster: {exc}") from None
    except trio.TooSlowError:
        raise CliError("REQUEST_TIMED_OUT", f"no answer within {args.timeout_s:g}s") from None
    print(json.dumps(rows) if args.json else render_brokers(rows))
    return 0
