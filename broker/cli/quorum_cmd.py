"""`rafka quorum up` (a local N-node quorum as child processes),
`rafka quorum status` (the leader's view of the metadata quorum) and
`rafka quorum add-voter|remove-voter --node-id N` (single-server voter
changes, decided on the Raft leader: add-voter promotes a caught-up
observer; remove-voter refuses the last voter or a change that leaves no
reachable majority; JSON: {"voters": [...], "observers": [...]}).

`quorum up` policy when a child dies unexpectedly: it prints one line saying
so and restarts the node (the data directory keeps its log), at most
`--restarts-max` times per node; past that it stops every node and exits 1.
The layout and supervisor live in broker.quorum_up; this module is the CLI.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

from rafka.broker.cli.errors import CliError
from rafka.broker.node.config import NODE_ID_MAX
from rafka.broker.node.quorum_layout import PORT_OFFSET_MAX
from rafka.broker.node.quorum_up import QuorumLayout, run_quorum_up

__all__ = ["QuorumLayout", "register", "parse_bootstrap", "handle_up", "handle_status",
           "handle_voter_change", "port_free"]

NODES_MAX = 9
DEFAULT_BASE_PORT = 9092


def register(subparsers, common) -> None:
    p = subparsers.add_parser("quorum", parents=[common], help="the metadata quorum")
    sub = p.add_subparsers(dest="quorum_command", metavar="ACTION", required=True)

    up = sub.add_parser("up", parents=[common], help="start a local quorum of N nodes")
    up.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    up.add_argument("--dir", default="./rafka-data", help="data root (default ./rafka-data)")
    up.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        help="node i serves Kafka on base+i-1, peers on base+100+i-1 "
        "and /metrics on base+200+i-1 (default 9092)",
    )
    up.add_argument("--ready-timeout-s", type=float, default=60.0)
    up.add_argument("--status-interval-s", type=float, default=5.0)
    up.add_argument("--stop-timeout-s", type=float, default=15.0)
    up.add_argument("--restarts-max", type=int, default=3)
    up.set_defaults(handler=handle_up)

    status = sub.add_parser("status", parents=[common], help="leader, term, commit, per-voter lag")
    status.add_argument("--timeout-s", type=float, default=5.0)
    status.set_defaults(handler=handle_status)

    for name, help_text in (("add-voter", "promote a caught-up observer to voter"),
                            ("remove-voter", "remove a voter from the metadata quorum")):
        change = sub.add_parser(name, parents=[common], help=help_text)
        change.add_argument("--node-id", type=int, required=True)
        change.add_argument("--timeout-s", type=float, default=15.0, help="overall deadline")
        change.set_defaults(handler=handle_voter_change, change=name)


def parse_bootstrap(text: str) -> list[str]:
    """--bootstrap as "host:port" strings (netproto.addresses rules); a bad
    list is INVALID_ARGUMENTS with exit code 2."""
    from rafka.netproto.addresses import AddressError
    from rafka.netproto.addresses import parse_bootstrap as parse

    try:
        return [str(hp) for hp in parse(text, what="--bootstrap")]
    except AddressError as exc:
        raise CliError("INVALID_ARGUMENTS", str(exc), exit_code=2) from None


def handle_status(args) -> int:
    """DescribeQuorum over the Kafka listener (asked of the leader)."""
    import trio

    from rafka.broker.client.kafka_quorum import QuorumUnavailable, quorum_status
    from rafka.broker.node.status import render_status_table

    bootstrap = parse_bootstrap(args.bootstrap)
    try:
        status = trio.run(quorum_status, bootstrap, args.timeout_s)
    except QuorumUnavailable as exc:
        raise CliError("NETWORK_EXCEPTION", f"no Kafka listener answered DescribeQuorum: {exc}") from None
    if args.json:
        print(json.dumps(status))
    else:
        print(render_status_table(status))
    return 0


def handle_voter_change(args) -> int:
    if not 1 <= args.node_id <= NODE_ID_MAX:
        raise CliError("INVALID_ARGUMENTS", f"--node-id must be in 1..{NODE_ID_MAX}", exit_code=2)
    result = _voter_change_over_kafka(args)
    if args.json:
        print(json.dumps(result))
    else:
        verb = "is now a voter" if args.change == "add-voter" else "is no longer a voter"
        print(f"node {args.node_id} {verb}; voters={result['voters']} observers={result['observers']}")
    return 0


def _voter_change_over_kafka(args) -> dict:
    """AddRaftVoter/RemoveRaftVoter over the Kafka listener."""
    import trio

    from rafka.broker.client.kafka_quorum import QuorumUnavailable, change_voter
    from rafka.netproto.errors import RafkaError

    bootstrap = parse_bootstrap(args.bootstrap)
    kind = "add" if args.change == "add-voter" else "remove"
    try:
        return trio.run(change_voter, bootstrap, kind, args.node_id, args.timeout_s)
    except RafkaError as exc:
        raise CliError(exc.code.name, exc.message) from None
    except QuorumUnavailable as exc:
        raise CliError("NETWORK_EXCEPTION", str(exc)) from None


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def handle_up(args) -> int:
    import trio

    if not 1 <= args.nodes <= NODES_MAX:
        raise CliError("INVALID_ARGUMENTS", f"--nodes must be 1..{NODES_MAX}", exit_code=2)
    if not 1024 <= args.base_port <= 65535 - PORT_OFFSET_MAX - args.nodes:
        raise CliError("INVALID_ARGUMENTS", "--base-port out of range", exit_code=2)
    layout = QuorumLayout(Path(args.dir).resolve(), args.nodes, args.base_port)
    # Held until this process exits: a second `quorum up` on the same root
    # is refused before it writes anything, even while nodes (re)start.
    root_lock = layout.lock_root()
    try:
        layout.check_nodes_unlocked()
        busy = [p for p in layout.all_ports() if not port_free(p)]
        if busy:
            raise CliError("PORT_IN_USE", f"port(s) already in use: {', '.join(map(str, busy))}")
        try:
            layout.prepare()
        except OSError as exc:
            raise CliError("KAFKA_STORAGE_ERROR", f"cannot prepare {layout.root}: {exc}") from None
        code = trio.run(run_quorum_up, layout, args)
    finally:
        root_lock.release()
    sys.stdout.flush()
    return code
