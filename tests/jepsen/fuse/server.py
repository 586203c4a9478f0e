"""The lazyfs process: mount LazyOps over MOUNT (backing BACKING) and serve
one-line commands on an abstract unix socket (`ping` -> `ok`, `drop` or
`drop torn SEED` -> a JSON line with what was lost). Ends when unmounted (fusermount3 -u MOUNT),
on SIGTERM/SIGINT, or when its parent (the harness) dies; it unmounts
itself in the last two cases.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket

import pyfuse3
import trio

from tests.jepsen.fuse.ops import LazyOps


async def _serve_control(ops: LazyOps, name: str) -> None:
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.bind("\0" + name)
    sock.listen(8)
    while True:
        conn, _ = await sock.accept()
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                chunk = await conn.recv(256)
                if not chunk:
                    break
                data += chunk
            cmd = data.decode().strip()
            try:
                if cmd == "ping":
                    reply = "ok"
                elif cmd == "drop":
                    reply = json.dumps(ops.drop())
                elif cmd.startswith("drop torn "):
                    reply = json.dumps(ops.drop(torn_seed=int(cmd.split()[2])))
                else:
                    reply = f"error unknown command {cmd!r}"
            except Exception as exc:  # the reply says so; the fs stays up
                reply = f"error {type(exc).__name__}: {exc}"
            out = reply.encode() + b"\n"
            while out:
                sent = await conn.send(out)
                out = out[sent:]


async def _main(args) -> None:
    ops = LazyOps(args.backing, args.trash, tuple(args.passthrough))
    options = set(pyfuse3.default_options) | {"fsname=lazyfs"}
    pyfuse3.init(ops, args.mount, options)
    unmounted = False
    try:
        async with trio.open_nursery() as nursery:
            async def fuse_main() -> None:
                nonlocal unmounted
                await pyfuse3.main()
                unmounted = True
                nursery.cancel_scope.cancel()

            async def on_signal() -> None:
                with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        return

            async def watch_parent() -> None:
                # the harness was killed (its cleanup never ran): unmount, end
                parent = os.getppid()
                while os.getppid() == parent:
                    await trio.sleep(1.0)  # wait-ok: a watchdog's poll interval
                nursery.cancel_scope.cancel()

            nursery.start_soon(fuse_main)
            nursery.start_soon(_serve_control, ops, args.control)
            nursery.start_soon(on_signal)
            nursery.start_soon(watch_parent)
    finally:
        pyfuse3.close(unmount=not unmounted)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.jepsen.fuse", description=__doc__.splitlines()[0])
    p.add_argument("backing")
    p.add_argument("mount")
    p.add_argument("--control", required=True, help="abstract unix socket name")
    p.add_argument("--trash", default=None, help="trash dir (default BACKING.trash)")
    p.add_argument("--passthrough", action="append", default=[],
                   help="top-level name written straight through, never dropped (repeatable)")
    args = p.parse_args(argv)
    args.trash = args.trash or os.path.abspath(args.backing).rstrip("/") + ".trash"
    trio.run(_main, args)
    return 0
