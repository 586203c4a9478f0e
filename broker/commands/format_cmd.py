"""`rafka format --dir DIR --node-id N [--cluster-id ID]`: give a data
directory its identity (see broker/meta_properties.py).

Prints the identity on success (`--json`: {"cluster_id", "node_id",
"formatted"}); `formatted` is false when the directory already had exactly
this identity, so scripts can call format unconditionally.
"""

from __future__ import annotations

import json

from broker.cli_errors import CliError
from broker.meta_properties import MetaPropertiesError, format_dir


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "format", parents=[common], help="write a data directory's identity (meta.properties)"
    )
    p.add_argument("--dir", required=True, help="the node's data directory")
    p.add_argument("--node-id", required=True, type=int, help="this node's id (positive)")
    p.add_argument(
        "--cluster-id",
        default=None,
        help="base64url cluster id (22 chars); a random one is generated if absent",
    )
    p.set_defaults(handler=handle)


def handle(args) -> int:
    try:
        identity, written = format_dir(args.dir, args.node_id, args.cluster_id)
    except MetaPropertiesError as exc:
        raise CliError(exc.code, exc.message) from None
    except OSError as exc:
        raise CliError("KAFKA_STORAGE_ERROR", f"cannot format {args.dir}: {exc}") from None
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
