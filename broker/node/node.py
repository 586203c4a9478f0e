"""The node process: Raft storage, driver, Kafka and peer listeners.

Wiring (one trio nursery, everything structured):
- `DiskStorage` under DATA_DIR/metadata (the Raft log, hard state, snapshots);
- a `RaftDriver` running a `RaftCore`, applying committed entries to a
  pluggable state machine (`apply(entry)`, `snapshot()`, `restore(data)`,
  optionally `summary() -> dict[str, str]` for status);
- the peer listener: from peers (kind "peer") Raft messages, handed to the
  driver, and the peer handler tables; the Raft transport sends one-way
  messages through a netproto pool to each voter's address from the
  config's voters table (the only way this node reaches others, so a
  harness may put proxies there). From rafka's own tools (kind "client",
  which must name the cluster id) the tool tables only: quorum and metadata
  status, barriers, reads and admin writes of broker/controller's client
  table, voter changes, bench appends (broker/node/messages.py); never Raft
  or replica traffic. (The msgpack client listener is retired.)
- the state machine: the metadata image (broker/node/state_machine.py), or
  with `--bench` the Raft benchmark's (broker/node/bench.py, which also
  serves BenchAppend), chosen here once;
- `MetadataServices` (controller, broker lifecycle, admin API) when the
  state machine is the metadata one: its handler tables are merged into
  the peer listener's two tables, and it forwards controller requests to
  a voter's peer listener through the same pool;
- `MembershipService` (broker/node/membership.py): the address book the
  transport and forwards use (the static voters table plus addresses
  announced by observers), JoinAsObserver on the peer listener, and the
  add/remove-voter admin requests. A node missing from its own voters table
  (roles without "controller") starts as a non-voter: its core never
  campaigns, it announces itself until the leader adds it as a learner,
  then follows the metadata log like any member. Its metadata services
  carry a dormant controller, so it can serve as controller if promoted.

Shutdown (SIGTERM/SIGINT, or the parent gone with --exit-with-parent; the
sequence lives in broker/node/shutdown.py): the broker role moves its
partition leaderships away, a leader hands leadership to its most caught-up
voter (each bounded), then every task is cancelled and storage closed.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import sys

import structlog
import trio

from rafka.broker.kafka.listener import KafkaListener
from rafka.broker.node.config import HostPort, NodeConfig
from rafka.broker.node.kafka_view import NodeKafkaView
from rafka.broker.node.node_metrics import NodeMetrics
from rafka.broker.node.bench import BenchHandler, BenchStateMachine
from rafka.broker.node.messages import (
    MEMBERSHIP_PEER_TYPES,
    MEMBERSHIP_TOOL_TYPES,
    TOOL_TYPES,
    QuorumStatusRequest,
)
from rafka.broker.node import heap
from rafka.broker.node.address_book import AddressBook
from rafka.broker.node.membership import MembershipService
from rafka.broker.node.meta_properties import MetaProperties
from rafka.broker.node.metadata_services import MetadataServices
from rafka.broker.node.shutdown import (
    NodeCrashedError,
    crash_summary,
    hand_over_leadership,
    report_crash,
    root_causes,
    serve_until_stopped,
    shut_down_broker_role,
)
from rafka.broker.node.state_machine import NodeStateMachine
from rafka.broker.replica.manager import ReplicaManager
from rafka.broker.group.service import GroupService
from rafka.broker.replica import test_api as replica_test_api
from rafka.broker.replica.peer_api import ReplicaPeerApi
from rafka.broker.node.status import status_from_driver
from rafka.netproto.connection import NotSentError
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.handshake import KIND_CLIENT, KIND_PEER
from rafka.netproto.pool import open_pool
from rafka.netproto.server import serve
from rafka.broker.node.peer_connections import PeerConnections
from rafka.raft.config import RaftConfig
from rafka.raft.core import RaftCore
from rafka.raft.disk_storage import DiskStorage
from rafka.raft.driver import DriverLimits, RaftDriver
from rafka.raft.errors import RaftError
from rafka.raft.messages import ALL_MESSAGES
from rafka.raft.types import ConfigState

log = structlog.get_logger("rafka.node")

GIL_SWITCH_INTERVAL_S = 0.0005


class NodeStartError(Exception):
    """The node cannot start (port in use, unusable storage); one line."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class PeerTransport:
    """The driver's Transport: one-way sends to each member's address
    (`addresses.get(node_id)`: the node's AddressBook)."""

    def __init__(self, pool, addresses, node_id: int) -> None:
        self.pool = pool
        self.addresses = addresses
        self.node_id = node_id
        self.unroutable = 0

    def send(self, msg) -> None:
        addr = self.addresses.get(msg.dst)
        if addr is None:
            self.unroutable += 1  # a member we have no address for; Raft retries
            return
        self.pool.send_oneway_nowait(addr, msg)


class Node:
    def __init__(
        self,
        config: NodeConfig,
        identity: MetaProperties,
        *,
        bench: bool = False,
        state_machine=None,
        rng: random.Random | None = None,
        metadata_services: bool = True,
    ) -> None:
        self.config = config
        self.cluster_id = identity.cluster_id
        self.node_id = config.node_id
        self.bench = bench
        if state_machine is None:
            # Chosen once, at start-up: a --bench node's Raft log carries the
            # benchmark's opaque entries, never metadata (broker/node/bench.py).
            state_machine = BenchStateMachine() if bench else NodeStateMachine()
        self.state_machine = state_machine
        self.with_services = metadata_services and hasattr(self.state_machine, "image")
        self.services: MetadataServices | None = None
        self.services_started = trio.Event()  # set once `services` is what it will be
        # Message TYPE -> handler, for tools and for peers (the peer listener).
        self.tool_handlers: dict = {}
        self.peer_handlers: dict = {}
        self.pool = None
        self.rng = rng or random.Random()
        self.driver: RaftDriver | None = None
        self.last_inbound: dict[int, float] = {}
        self.log = log.bind(node_id=self.node_id)
        self.peer_port: int | None = None
        self.peer_connections = PeerConnections(self.node_id)  # the peer listener's, for the controller
        self.kafka_port: int | None = None
        self.kafka: KafkaListener | None = None
        self.book = AddressBook({i: (hp.host, hp.port) for i, hp in config.voters.items()})
        self.membership: MembershipService | None = None
        # Data partitions (broker role with metadata services): broker/replica.
        self.replicas: ReplicaManager | None = None
        # The group coordinator (broker/group), on the replicas it leads.
        self.groups: GroupService | None = None
        # Prometheus metrics (broker/metrics), served on listeners.metrics.
        self.metrics = NodeMetrics(self)
        metadata_sm = getattr(self.state_machine, "metadata", None)
        if metadata_sm is not None:  # every applied metadata record: a controller event
            metadata_sm.listeners.append(self.metrics.on_metadata)
        self.metrics_port: int | None = None

    def _raft_config(self) -> RaftConfig:
        r = self.config.raft
        return RaftConfig(
            election_timeout_ticks=max(2, r.election_timeout_ms // r.tick_ms),
            heartbeat_ticks=max(1, r.heartbeat_interval_ms // r.tick_ms),
        )

    def _open_storage(self) -> DiskStorage:
        bootstrap = ConfigState(voters=frozenset(self.config.voters))
        try:
            return DiskStorage.open(self.config.data_dir / "metadata", bootstrap,
                                    log_fields={"node_id": self.node_id})
        except (RaftError, OSError, ValueError) as exc:
            raise NodeStartError("KAFKA_STORAGE_ERROR", f"cannot open the metadata log: {exc}") from None

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; started() once every listener is bound."""
        storage = self._open_storage()
        try:
            core = RaftCore(self.node_id, self._raft_config(), storage, self.rng)
            async with open_pool(
                cluster_id=self.cluster_id, kind=KIND_PEER, node_id=self.node_id, rng=self.rng
            ) as pool:
                self.pool = pool
                transport = PeerTransport(pool, self.book, self.node_id)
                self.driver = RaftDriver(
                    core,
                    storage,
                    transport,
                    self.state_machine,
                    tick_ms=self.config.raft.tick_ms,
                    node_id=self.node_id,
                    limits=DriverLimits(
                        inbox_max=self.config.raft.inbound_messages_max,
                        pending_proposals_max=self.config.raft.pending_proposals_max,
                    ),
                )
                async with trio.open_nursery() as nursery:
                    await nursery.start(self.driver.run)
                    registered = await self._listen_kafka(nursery)
                    await self._listen_metrics(nursery)
                    if self.with_services:
                        # A non-voter gets a dormant controller too: it only
                        # activates on the Raft leader, which it can become
                        # only once promoted to voter.
                        roles = tuple(dict.fromkeys((*self.config.roles, "controller")))
                        # Brokers register (and Metadata returns) their
                        # advertised Kafka address when they serve Kafka.
                        self.services = MetadataServices.for_node(
                            dataclasses.replace(self.config, roles=roles, advertised_broker=registered),
                            self.driver,
                            self.state_machine,
                            self._forward,
                            random.Random(self.rng.getrandbits(64)),
                        )
                        self.services.watch_peer_connections(self.peer_connections)
                        self.tool_handlers = dict(self.services.client_handlers())
                        self.peer_handlers = dict(self.services.peer_handlers())
                        if "broker" in self.config.roles:
                            self.replicas = self._replica_manager()
                            self.replicas.observer = self.metrics
                            self.peer_handlers.update(ReplicaPeerApi(self.replicas).peer_handlers())
                            if replica_test_api.enabled():  # integration tests only (env flag)
                                self.peer_handlers.update(replica_test_api.ReplicaTestApi(self.replicas).peer_handlers())
                    self.services_started.set()
                    self.membership = MembershipService.for_node(
                        self.config, self.driver, self.book, call_peer=pool.call, forward=self._forward,
                    )
                    self.peer_handlers.update(self.membership.peer_handlers())
                    self.tool_handlers.update(self.membership.tool_handlers())
                    if self.bench:
                        self.tool_handlers.update(BenchHandler(self.driver, self.node_id).tool_handlers())
                    accepts = {m.TYPE for m in ALL_MESSAGES} | set(self.peer_handlers) | set(MEMBERSHIP_PEER_TYPES)
                    accepts |= set(TOOL_TYPES) | set(self.tool_handlers) | set(MEMBERSHIP_TOOL_TYPES)
                    self.peer_port = await self._listen(nursery, self._on_peer, self.config.peer_listener, accepts)
                    self.membership.set_bound_port(self.peer_port)
                    self.log.info(
                        "node_started",
                        cluster_id=self.cluster_id,
                        peer_port=self.peer_port,
                        kafka_port=self.kafka_port,
                        metrics_port=self.metrics_port,
                        voters=sorted(self.config.voters),
                        observer=not self.config.is_voter,
                        bench=self.bench,
                        metadata_services=self.services is not None,
                    )
                    if self.services is not None:
                        await nursery.start(self.services.run)
                    if self.replicas is not None:
                        await nursery.start(self.replicas.run)
                        self.groups = GroupService(
                            self.node_id, self.replicas, self.replicas.metadata, self.config.group,
                            route_to_controller=self.services.api.route_to_controller)
                        await nursery.start(self.groups.run)
                    await nursery.start(self.membership.run)
                    nursery.start_soon(heap.settle_loop, self.log)
                    task_status.started()
        finally:
            storage.close()

    def _replica_manager(self) -> ReplicaManager:
        """The broker's data partitions: AlterPartition goes to the active
        controller (forwarded like any controller request); fetchers reach
        leaders through the peer pool (`_forward`)."""
        services = self.services

        def broker_epoch():
            return None if services.lifecycle is None else services.lifecycle.broker_epoch

        return ReplicaManager(
            self.node_id, self.config.partition_log_dirs,
            getattr(self.state_machine, "metadata", self.state_machine),  # NodeStateMachine wraps it
            self.config.replica,
            alter_partition=services.api.route_to_controller, broker_epoch=broker_epoch,
            peer_call=self._forward,
            catch_up=None if services.lifecycle is None else services.lifecycle.initial_catch_up.wait,
        )

    async def _listen_kafka(self, nursery):
        """Bind the Kafka listener (when configured) before the broker
        registers; returns the address to register: the advertised Kafka
        address (its port the bound one when configured as 0), else (a node
        without Kafka, e.g. a --bench one) the peer listener's."""
        hp = self.config.kafka_listener
        if hp is None:
            return self.config.peer_listener
        self.kafka = KafkaListener(NodeKafkaView(self, self.config.kafka), hp.host, hp.port)
        try:
            self.kafka_port = await nursery.start(self.kafka.run)
        except OSError as exc:
            raise NodeStartError("PORT_IN_USE", f"cannot listen on {hp} (kafka): {exc.strerror or exc}") from None
        adv = self.config.advertised_kafka or hp
        return HostPort(adv.host, adv.port or self.kafka_port)

    async def _listen_metrics(self, nursery) -> None:
        """Serve /metrics when `listeners.metrics` is configured."""
        hp = self.config.metrics_listener
        if hp is None:
            return
        try:
            self.metrics_port = await nursery.start(
                functools.partial(self.metrics.serve, hp.host, hp.port))
        except OSError as exc:
            raise NodeStartError("PORT_IN_USE", f"cannot listen on {hp} (metrics): {exc.strerror or exc}") from None

    async def _listen(self, nursery, handler, hp, accepts) -> int:
        """The peer listener: peers, and tools that name the cluster id."""
        try:
            return await nursery.start(
                functools.partial(
                    serve,
                    handler,
                    host=hp.host,
                    port=hp.port,
                    cluster_id=self.cluster_id,
                    node_id=self.node_id,
                    accepts=accepts,
                    kinds={KIND_PEER, KIND_CLIENT},
                    clients_need_cluster_id=True,
                    observer=self.peer_connections,
                )
            )
        except OSError as exc:
            raise NodeStartError("PORT_IN_USE", f"cannot listen on {hp} (peer): {exc.strerror or exc}") from None

    # ------------------------------------------------------------ handlers
    async def _forward(self, node_id: int, request, timeout_s: float):
        """Call `request` on node_id's peer listener (its address-book entry:
        the voters table's address, else the one it announced)."""
        addr = self.book.get(node_id)
        if addr is None or self.pool is None:
            # Surely not sent: the caller may answer NOT_CONTROLLER (retry).
            raise NotSentError(f"no peer address for node {node_id}")
        return await self.pool.call(addr, request, timeout_s)

    async def _on_peer(self, msg, ctx):
        if ctx.kind == KIND_CLIENT:
            return await self._on_tool(msg, ctx)
        handler = self.peer_handlers.get(msg.TYPE)
        if handler is not None:
            return await handler(msg, ctx)
        if msg.dst != self.node_id or (ctx.node_id is not None and ctx.node_id != msg.src):
            self.log.warning("peer_message_misrouted", src=msg.src, dst=msg.dst, claimed=ctx.node_id)
            return None
        self.last_inbound[msg.src] = trio.current_time()
        self.driver.deliver(msg)
        return None

    async def _on_tool(self, msg, ctx):
        """A tool's request: the tool tables only (never Raft or replica traffic)."""
        if isinstance(msg, QuorumStatusRequest):
            return self.status_response()
        handler = self.tool_handlers.get(msg.TYPE)
        if handler is not None:
            return await handler(msg, ctx)
        raise RafkaError(ErrorCode.INVALID_REQUEST, f"unsupported request {msg.TYPE}")

    def status_response(self):
        st = self.driver.status()
        leader_addr = self.book.address_text(st.leader_id) if st.leader_id else None
        summary = getattr(self.state_machine, "summary", None)
        return status_from_driver(
            st,
            cluster_id=self.cluster_id,
            now=trio.current_time(),
            last_inbound=self.last_inbound,
            leader_peer_address=leader_addr,
            state_machine=summary() if summary else {},
        )

    # ------------------------------------------------------------ shutdown
    async def controlled_shutdown(self) -> None:
        """Move partition leaderships away (broker role), then hand over Raft
        leadership (if leader); each step bounded (broker/node_shutdown.py)."""
        if self.services is not None:
            await shut_down_broker_role(self.services, self.log)
        await self.handover()

    async def handover(self) -> None:
        """If leader, transfer leadership to the most caught-up live voter."""
        if self.driver is not None:
            await hand_over_leadership(
                self.driver, timeout_s=2 * self.config.raft.election_timeout_ms / 1000, log=self.log,
            )


async def run_node(config: NodeConfig, identity: MetaProperties, *, bench: bool, exit_with_parent: bool) -> int:
    node = Node(config, identity, bench=bench)
    await serve_until_stopped(node, exit_with_parent=exit_with_parent)
    node.log.info("node_stopped")
    return 0


def main_node(config: NodeConfig, identity: MetaProperties, *, bench: bool = False, exit_with_parent: bool = False) -> int:
    """Run the node until SIGTERM/SIGINT; exit code 0 on a clean stop.

    A failure raises NodeStartError (a start-up refusal found inside the
    nursery's exception groups) or NodeCrashedError after logging a
    `node_crashed` event per root cause (type, message, traceback)."""
    # The Raft log is written from a worker thread (Python CPU work plus
    # fsync); a short GIL switch interval keeps the event loop responsive
    # while it runs (the 5 ms default stalls sends and replies).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    try:
        return trio.run(
            functools.partial(run_node, config, identity, bench=bench, exit_with_parent=exit_with_parent)
        )
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - every crash is reported, then re-raised typed
        causes = [c for c in root_causes(exc) if not isinstance(c, trio.Cancelled)] or [exc]
        start_error = next((c for c in causes if isinstance(c, NodeStartError)), None)
        if start_error is not None:
            raise start_error from None
        if not any(isinstance(c, Exception) for c in causes):
            raise causes[0] from None  # KeyboardInterrupt/SystemExit inside a group
        report_crash(log, config.node_id, causes)
        raise NodeCrashedError(crash_summary(causes)) from exc

