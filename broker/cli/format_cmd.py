"""`rafka format --dir DIR --node-id N [--cluster-id ID]`: give a data
directory its identity (see broker/meta_properties.py).

Prints the identity on success (`--json`: {"cluster_id", "node_id",
"formatted"}); `formatted` is false when the directory already had exactly
this identity, so scripts can call format unconditionally. A directory held
by a running node (its DATA_DIR/.lock) is refused: DATA_DIR_LOCKED.
"""

from __future__ import annotations

import json
from pathlib import Path

from rafka.broker.cli.errors import CliError
from rafka.broker.node.datadir_lock import DataDirLock, DataDirLockedError
from rafka.broker.node.meta_properties import MetaPropertiesError, format_dir, validate_node_id


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "format", parents=[common], help="write a data directory's identity (meta.properties)"
    )
    p.add_argument("--dir", required=True, help="the node's data directory")
    p.add_argument("--node-id", required=True, type=int, help="this node's id (1..2147483647)")
    p.add_argument(
        "--cluster-id",
        default=None,
        help="base64url cluster id (22 chars); a random one is generated if absent",
    )
    p.set_defaults(handler=handle)


def handle(args) -> int:
    lock = None
    try:
        # A directory that does not exist yet cannot be in use; one that
        # does is locked while formatting, so no node starts on it meanwhile.
        validate_node_id(args.node_id)
        if Path(args.dir).is_dir():
            lock = DataDirLock.acquire(args.dir)
        identity, written = format_dir(args.dir, args.node_id, args.cluster_id)
    except (MetaPropertiesError, DataDirLockedError) as exc:
        raise CliError(exc.code, exc.message) from None
    except OSError as exc:
        raise CliError("KAFKA_STORAGE_ERROR", f"cannot format {args.dir}: {exc}") from None
    finally:
        if lock is not None:
            lock.release()
    if args.json:
        print(
            json.dumps(
                {
                    "cluster_id": identity.cluster_id,
                    "node_id": identity.node_id,
                    "formatted": written,
                }
            )
        )
    else:
        verb = "formatted" if written else "already formatted"
        print(f"{verb} {args.dir}: cluster.id={identity.cluster_id} node.id={identity.node_id}")
    return 0
