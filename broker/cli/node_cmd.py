"""`rafka node start --config FILE`: run one node in the foreground.

Refuses, with one line and a non-zero exit, a bad config, an unformatted data
directory, one formatted for another node, or one another process holds
(DATA_DIR_LOCKED: the lock of broker/datadir_lock.py, taken before anything is
written there and held until the process exits). A crash exits non-zero
with one `NODE_CRASHED` line naming the root cause. SIGTERM and SIGINT stop the
node cleanly (a leader first hands leadership to a caught-up voter) and exit 0.
"""

from __future__ import annotations

from rafka.broker.cli.errors import CliError
from rafka.broker.node.config import ConfigError, load_config
from rafka.broker.node.datadir_lock import DataDirLock, DataDirLockedError
from rafka.broker.node.meta_properties import MetaPropertiesError, check_identity


def register(subparsers, common) -> None:
    p = subparsers.add_parser("node", parents=[common], help="run a node")
    sub = p.add_subparsers(dest="node_command", metavar="ACTION", required=True)
    start = sub.add_parser(
        "start", parents=[common], help="start a node in the foreground (SIGTERM stops it)"
    )
    start.add_argument("--config", required=True, help="the node's TOML file")
    start.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    start.add_argument(
        "--bench",
        action="store_true",
        help="also serve the benchmark-only BenchAppend request (opaque entries)",
    )
    start.add_argument(
        "--no-terminal-log",
        action="store_true",
        help="log only to DATA_DIR/logs/node.jsonl (fatal errors still go to stderr)",
    )
    start.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop cleanly when the parent process goes away (used by `quorum up`)",
    )
    start.set_defaults(handler=handle_start)


def handle_start(args) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliError(ConfigError.code, str(exc)) from None
    try:
        identity = check_identity(config.data_dir, config.node_id)
    except MetaPropertiesError as exc:
        raise CliError(exc.code, exc.message) from None

    try:
        lock = DataDirLock.acquire(config.data_dir)
    except DataDirLockedError as exc:
        raise CliError(exc.code, exc.message) from None
    except OSError as exc:
        raise CliError("KAFKA_STORAGE_ERROR", f"cannot lock {config.data_dir}: {exc}") from None
    try:
        return _run(args, config, identity)
    finally:
        lock.release()


def _run(args, config, identity) -> int:
    # Imported here so `rafka format` and `--help` do not pay for trio/raft.
    from rafka.broker.node.logsetup import configure_logging
    from rafka.broker.node.node import NodeCrashedError, NodeStartError, main_node

    configure_logging(
        node_id=config.node_id,
        data_dir=config.data_dir,
        level=args.log_level,
        terminal=not args.no_terminal_log,
    )
    try:
        return main_node(
            config, identity, bench=args.bench, exit_with_parent=args.exit_with_parent
        )
    except (NodeStartError, NodeCrashedError) as exc:
        raise CliError(exc.code, exc.message) from None
