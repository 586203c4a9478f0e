"""The `rafka` command line.

This module only builds the argument parser and turns failures into the CLI
contract of DESIGN.md: exit 0 on success, otherwise a one-line error on stderr
(JSON with --json) and a non-zero exit, never a traceback unless --debug.

Each command lives in its own module under `broker/commands/` and exposes
`register(subparsers, common)`, which adds its sub-parser(s) and sets
`handler=` to a function `handler(args) -> int` (the exit code). `common` is a
parent parser carrying --bootstrap/--json/--debug so every command accepts
them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from rafka.broker.cli.errors import CliError

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"

# Command modules, in the order they appear in --help. Only built commands
# are listed; a module that fails to import is a bug and fails loudly (it is
# never dropped, which would turn it into "invalid choice").
COMMAND_MODULES = (
    "rafka.broker.cli.format_cmd",
    "rafka.broker.cli.node_cmd",
    "rafka.broker.cli.quorum_cmd",
    "rafka.broker.cli.brokers_cmd",
    "rafka.broker.cli.topics_cmd",
    "rafka.broker.cli.produce_cmd",
    "rafka.broker.cli.consume_cmd",
    "rafka.broker.cli.groups_cmd",
    "rafka.broker.cli.dumplog_cmd",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError("INVALID_ARGUMENTS", f"{self.prog}: {message}", exit_code=2)


def common_parser(*, with_defaults: bool = True) -> argparse.ArgumentParser:
    """--bootstrap/--json/--debug, accepted before and after the command.

    The top-level parser carries the real defaults; the copy every command
    gets has SUPPRESS defaults, so `rafka --json topics list` keeps the value
    given before the command instead of having the command's default
    overwrite it."""
    def default(value):
        return value if with_defaults else argparse.SUPPRESS

    common = _Parser(add_help=False)
    common.add_argument(
        "--bootstrap",
        default=default(os.environ.get("RAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP)),
        help="HOST:PORT[,...] of any node's Kafka listener "
        f"(default: $RAFKA_BOOTSTRAP or {DEFAULT_BOOTSTRAP})",
    )
    common.add_argument("--json", action="store_true", default=default(False),
                        help="machine-readable output")
    common.add_argument("--debug", action="store_true", default=default(False),
                        help="show tracebacks")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = common_parser(with_defaults=False)
    parser = _Parser(
        prog="rafka",
        description="rafka: a Kafka-style log broker with a Raft metadata quorum",
        parents=[common_parser()],
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers, common)
    return parser


def report_error(code: str, message: str, as_json: bool) -> None:
    """Print one error line on stderr, per the CLI contract."""
    message = " ".join(str(message).split())  # always exactly one line
    if as_json:
        print(json.dumps({"error": code, "message": message}), file=sys.stderr)
    else:
        print(f"error: {code}: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    as_json = "--json" in argv
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return 0 if not argv else 2
        code = handler(args)
        return int(code or 0)
    except CliError as exc:
        if debug:
            raise
        report_error(exc.code, exc.message, as_json)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`rafka dump-log ... | head`): stop quietly,
        # and point stdout at /dev/null so the interpreter's final flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # the last line of defence: one line, no traceback
        if debug:
            raise
        code = getattr(exc, "code_name", None) or type(exc).__name__
        report_error(str(code), str(exc) or type(exc).__name__, as_json)
        return 1


if __name__ == "__main__":
    sys.exit(main())
