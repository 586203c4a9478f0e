"""Supervisor and on-disk layout for `rafka quorum up`: where each node of
a local quorum lives (QuorumLayout), its child processes (Children) and the
loop that waits for a ready quorum, prints status and restarts dead nodes.

Restart policy: a child that dies unexpectedly is announced on one line and
restarted (its data directory keeps its log), at most `args.restarts_max`
times per node; past that the supervisor returns 1 and every node is stopped.
The CLI wiring (argument parsing, port checks, the root lock) stays in
broker.commands.quorum_cmd.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rafka.broker.cli.errors import CliError
from rafka.broker.node.config import BrokerSettings, RaftSettings, render_config, settings_table
from rafka.broker.node.datadir_lock import DataDirLock, DataDirLockedError, check_unlocked
from rafka.broker.node.meta_properties import MetaPropertiesError, format_dir, new_cluster_id, read

PEER_PORT_OFFSET = 100


class QuorumLayout:
    """Where node i of a local quorum lives: DIR/node-i/ (data, logs,
    node.toml, node.out), client port base+i-1, peer port base+100+i-1."""

    def __init__(self, root: Path, nodes: int, base_port: int) -> None:
        self.root = root
        self.ids = list(range(1, nodes + 1))
        self.base_port = base_port

    def node_dir(self, i: int) -> Path:
        return self.root / f"node-{i}"

    def config_path(self, i: int) -> Path:
        return self.node_dir(i) / "node.toml"

    def client_port(self, i: int) -> int:
        return self.base_port + i - 1

    def peer_port(self, i: int) -> int:
        return self.base_port + PEER_PORT_OFFSET + i - 1

    def client_address(self, i: int) -> str:
        return f"127.0.0.1:{self.client_port(i)}"

    def all_ports(self) -> list[int]:
        return [self.client_port(i) for i in self.ids] + [self.peer_port(i) for i in self.ids]

    @property
    def bootstrap(self) -> str:
        return ",".join(self.client_address(i) for i in self.ids)

    def lock_root(self) -> DataDirLock:
        """Create the root and lock it (DIR/.lock) for this `quorum up`."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return DataDirLock.acquire(self.root, what="rafka quorum up")
        except DataDirLockedError as exc:
            raise CliError(exc.code, exc.message) from None
        except OSError as exc:
            raise CliError("KAFKA_STORAGE_ERROR", f"cannot lock {self.root}: {exc}") from None

    def check_nodes_unlocked(self) -> None:
        """Refuse (DATA_DIR_LOCKED) if any node dir is held by a running
        node: formatting it or rewriting its node.toml would corrupt it."""
        for i in self.ids:
            try:
                check_unlocked(self.node_dir(i))
            except DataDirLockedError as exc:
                raise CliError(exc.code, exc.message) from None
            except OSError as exc:
                raise CliError("KAFKA_STORAGE_ERROR", f"cannot check {self.node_dir(i)}: {exc}") from None

    def shared_cluster_id(self) -> str:
        """The cluster id already on disk (all formatted nodes must agree), or a new one."""
        found: dict[int, str] = {}
        for i in self.ids:
            try:
                identity = read(self.node_dir(i)) if self.node_dir(i).is_dir() else None
            except MetaPropertiesError as exc:
                raise CliError(exc.code, exc.message) from None
            if identity is not None:
                found[i] = identity.cluster_id
        if len(set(found.values())) > 1:
            detail = ", ".join(f"node-{i}={c}" for i, c in sorted(found.items()))
            raise CliError("INCONSISTENT_CLUSTER_ID", f"{self.root} mixes clusters: {detail}")
        return next(iter(found.values())) if found else new_cluster_id()

    def prepare(self) -> str:
        """Format every node (reusing the cluster id) and write its node.toml."""
        cluster_id = self.shared_cluster_id()
        voters = {j: f"127.0.0.1:{self.peer_port(j)}" for j in self.ids}
        clients = {j: self.client_address(j) for j in self.ids}
        for i in self.ids:
            try:
                format_dir(self.node_dir(i), i, cluster_id)
            except MetaPropertiesError as exc:
                raise CliError(exc.code, exc.message) from None
            raft, broker = self.kept_settings(i)
            text = render_config(
                node_id=i,
                data_dir=".",
                client=self.client_address(i),
                peer=f"127.0.0.1:{self.peer_port(i)}",
                voters=voters,
                client_addresses=clients,
                raft=raft,
                broker=broker,
            )
            self.config_path(i).write_text(text)
        return cluster_id

    def kept_settings(self, i: int) -> tuple[dict, dict]:
        """Complete [raft] and [broker] tables for node i: the defaults,
        overridden by known keys of an existing node.toml (so an operator's
        edits survive a restart; addresses are always rewritten)."""
        import tomllib

        tables = {"raft": settings_table(RaftSettings()), "broker": settings_table(BrokerSettings())}
        try:
            old = tomllib.loads(self.config_path(i).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            old = {}
        for name, table in tables.items():
            given = old.get(name)
            if isinstance(given, dict):
                table.update({k: v for k, v in given.items() if k in table})
        return tables["raft"], tables["broker"]


class Children:
    """The node processes of `quorum up`, by node id; every one is reaped."""

    def __init__(self, layout: QuorumLayout) -> None:
        self.layout = layout
        self.procs: dict[int, subprocess.Popen] = {}
        self.restarts: dict[int, int] = {i: 0 for i in layout.ids}

    def start(self, i: int) -> None:
        cmd = [
            sys.executable, "-m", "rafka.broker.cli", "node", "start",
            "--config", str(self.layout.config_path(i)),
            "--no-terminal-log", "--exit-with-parent",
        ]  # fmt: skip
        # node.out holds only fatal start-up errors (logs go to logs/node.jsonl).
        with open(self.layout.node_dir(i) / "node.out", "wb") as out:
            self.procs[i] = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def dead(self) -> list[tuple[int, int]]:
        return [(i, p.returncode) for i, p in self.procs.items() if p.poll() is not None]

    def stop_all(self, timeout_s: float) -> None:
        """SIGTERM every node, wait up to timeout_s, then kill -9 the rest."""
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _say(line: str) -> None:
    print(line, flush=True)


def quorum_ready(status: dict, ids: list[int]) -> bool:
    """A leader is elected, has committed in its term, and every voter has caught up.

    `ready` also needs every broker registered and unfenced (brokers_ready)."""
    if status.get("leader_id") is None or status.get("role") != "leader":
        return False
    if status.get("commit_index", 0) < 1:
        return False
    voters = {v["node_id"]: v for v in status.get("voters", [])}
    return set(ids) <= set(voters) and all(voters[i].get("lag") == 0 for i in ids)


async def brokers_ready(bootstrap: list[str], ids: list[int], timeout_s: float) -> bool:
    """Every node is a registered, unfenced broker (a linearizable read)."""
    from rafka.broker.client.admin_client import AdminClient

    client = AdminClient(",".join(bootstrap), timeout_s=timeout_s)
    brokers = {b.node_id: b for b in await client.list_brokers(consistent=True)}
    return all(i in brokers and not brokers[i].fenced for i in ids)


def status_line(status: dict) -> str:
    lags = ",".join(f"{v['node_id']}:{v.get('lag')}" for v in status.get("voters", []))
    return (
        f"status leader={status.get('leader_id')} term={status.get('term')} "
        f"commit={status.get('commit_index')} lag={lags}"
    )


async def run_quorum_up(layout: QuorumLayout, args) -> int:
    import trio

    from rafka.broker.client.node_client import quorum_status

    children = Children(layout)
    bootstrap = [layout.client_address(i) for i in layout.ids]
    code = 0
    try:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:

                async def on_signal() -> None:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(on_signal)
                _say(f"starting {len(layout.ids)} nodes under {layout.root}")
                for i in layout.ids:
                    children.start(i)
                    _say(f"node {i} pid={children.procs[i].pid}")
                code = await _supervise(layout, args, children, bootstrap, quorum_status)
                nursery.cancel_scope.cancel()
    finally:
        _say("stopping nodes")
        children.stop_all(args.stop_timeout_s)
        _say("stopped")
    return code


async def _brokers_ready_now(bootstrap: list[str], ids: list[int]) -> bool:
    import trio

    try:
        with trio.fail_after(3.0):
            return await brokers_ready(bootstrap, ids, 2.0)
    except Exception:  # noqa: BLE001 - not registered yet / no controller yet
        return False


async def _supervise(layout, args, children: Children, bootstrap, quorum_status) -> int:
    """Wait for ready, then print status and watch children until cancelled."""
    import trio

    ready = False
    started = trio.current_time()
    last_line = -1e9
    while True:
        for i, returncode in children.dead():
            children.restarts[i] += 1
            if children.restarts[i] > args.restarts_max:
                _say(f"node {i} exited unexpectedly (code {returncode}); giving up")
                return 1
            _say(f"node {i} exited unexpectedly (code {returncode}); restarting it")
            children.start(i)
            _say(f"node {i} pid={children.procs[i].pid}")
        try:
            with trio.fail_after(2.0):
                status = await quorum_status(bootstrap, 2.0)
        except Exception:  # noqa: BLE001 - a quorum that does not answer yet
            status = None
        now = trio.current_time()
        if not ready:
            if (
                status is not None
                and quorum_ready(status, layout.ids)
                and await _brokers_ready_now(bootstrap, layout.ids)
            ):
                ready = True
                _say(f"ready bootstrap={layout.bootstrap}")
                last_line = now
            elif now - started > args.ready_timeout_s:
                _say(f"no ready quorum after {args.ready_timeout_s:g}s; see {layout.root}")
                return 1
        elif now - last_line >= args.status_interval_s:
            _say(status_line(status) if status else "status unavailable (no leader answered)")
            last_line = now
        await trio.sleep(0.2 if not ready else 0.5)
