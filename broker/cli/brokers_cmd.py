"""`rafka brokers list [--consistent]`: registered brokers and their state.

JSON per DESIGN.md: [{"node_id", "host", "port", "rack", "fenced"}, ...]
plus "in_controlled_shutdown", "broker_epoch" and "last_heartbeat_ms":
milliseconds since the active controller last heard from the broker, null
when unknown (no live session, or no active controller could be asked).
"""

from __future__ import annotations

import json

from rafka.broker.cli.topics_cmd import DEFAULT_TIMEOUT_S, run


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
        lines.append(f"{r['node_id']:<4} {r['host'] + ':' + str(r['port']):<22} {r['rack'] or '-':<8} "
                     f"{state:<10} {r['broker_epoch']:<6} {ago}")
    return "\n".join(lines)


def handle_list(args) -> int:
    async def go(client):
        return await client.list_brokers(consistent=args.consistent)

    rows = [broker_to_dict(b) for b in run(args, go)]
    print(json.dumps(rows) if args.json else render_brokers(rows))
    return 0
