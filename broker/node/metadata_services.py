"""The controller side of a node, as one object the node process wires in.

Why one bundle: the node (broker/node.py) should not know how the active
controller, the broker lifecycle and the admin handlers fit together; it
builds `MetadataServices`, merges its handler tables into its peer
listener's tool and peer tables, starts `run` in its nursery and calls `shutdown` on SIGTERM.

Wiring contract for the node::

    services = MetadataServices.for_node(config, driver, state_machine, forward, rng)
    # peer listener, tools ("client" connections naming the cluster id):
    #     accepts |= services.client_types, dispatch -> services.client_handlers()[msg.TYPE]
    # peer listener, peers:
    #     accepts |= services.peer_types, dispatch -> services.peer_handlers()[msg.TYPE]
    await nursery.start(services.run)
    ...
    # on SIGTERM, before transferring Raft leadership and exiting:
    await services.shutdown(timeout_s)

Controlled shutdown gives up early when `no_controller_reason` (read from
the Raft driver's status) says no controller can answer: no leader known, a
leader that has not heard from a majority of voters for an election
timeout, or a leader this follower has not heard from for that long.

`forward(node_id, request, timeout_s)` must call `request` on the peer
listener of `node_id` (the voters table's address) and return the response,
raising netproto's NotSentError when it surely was not sent.
"""

from __future__ import annotations

import random

import trio

from rafka.broker.controller.admin_api import AdminApi, AdminApiConfig, ForwardCall
from rafka.broker.node.broker_lifecycle import BrokerLifecycle, ControllerProbe, LifecycleConfig
from rafka.broker.controller.config import ControllerConfig
from rafka.broker.controller.controller import Controller
from rafka.broker.controller.service import ControllerService, ControllerServiceConfig, RaftHandle
from rafka.raft.status import RaftStatus


def no_controller_reason(status: RaftStatus) -> str | None:
    """Why surely no active controller can decide now, or None when one may:
    no leader known; a leader hearing from no majority of voters within an
    election timeout (RaftStatus.live_voters); a follower whose leader has
    been silent that long. Pure: the caller reads the driver, this only judges."""
    if status.leader_id is None:
        return f"no Raft leader known (role {status.role}, term {status.term})"
    if status.role == "leader":
        heard = len(status.live_voters())
        if status.voters and heard <= len(status.voters) // 2:
            return f"leader of term {status.term} hears from only {heard} of {len(status.voters)} voters"
        return None
    if status.election_elapsed >= status.election_timeout_ticks:
        return f"leader {status.leader_id} silent for {status.election_elapsed} ticks"
    return None


def driver_probe(driver) -> ControllerProbe:
    """A controller probe reading a running RaftDriver (see no_controller_reason)."""

    def probe() -> str | None:
        return no_controller_reason(driver.status())

    return probe


class MetadataServices:
    def __init__(
        self,
        *,
        node_id: int,
        roles: tuple[str, ...],
        raft: RaftHandle,
        metadata,
        forward: ForwardCall,
        advertised_host: str,
        advertised_port: int,
        rack: str | None,
        rng: random.Random,
        controller_config: ControllerConfig | None = None,
        service_config: ControllerServiceConfig | None = None,
        api_config: AdminApiConfig | None = None,
        lifecycle_config: LifecycleConfig | None = None,
        controller_probe: ControllerProbe | None = None,
    ) -> None:
        self.node_id = node_id
        self.metadata = metadata
        self.service: ControllerService | None = None
        if "controller" in roles:
            controller = Controller(node_id, controller_config, random.Random(rng.getrandbits(64)))
            self.service = ControllerService(node_id, raft, metadata, controller, service_config)
        self.api = AdminApi(node_id, raft, metadata, self.service, forward, api_config)
        self.lifecycle: BrokerLifecycle | None = None
        if "broker" in roles:
            self.lifecycle = BrokerLifecycle(
                node_id, advertised_host, advertised_port, rack, self.api.route_to_controller,
                metadata, random.Random(rng.getrandbits(64)), lifecycle_config,
                controller_probe=controller_probe,
            )

    @classmethod
    def for_node(cls, config, driver, state_machine, forward: ForwardCall,
                 rng: random.Random | None = None) -> MetadataServices:
        """Build from a broker.config.NodeConfig and a running RaftDriver."""
        from rafka.broker.node.raft_handle import DriverRaftHandle

        rng = rng or random.Random()
        broker = config.broker
        raft = config.raft
        return cls(
            node_id=config.node_id,
            roles=tuple(config.roles),
            raft=DriverRaftHandle(driver),
            metadata=state_machine,
            forward=forward,
            advertised_host=config.advertised_broker.host,
            advertised_port=config.advertised_broker.port,
            rack=config.rack,
            rng=rng,
            controller_config=ControllerConfig(
                session_timeout_ms=broker.session_timeout_ms,
                session_lost_grace_ms=broker.session_lost_grace_ms,
                preferred_election_interval_ms=broker.preferred_election_interval_ms,
                # Brokers replicate data: only a partition leader's
                # AlterPartition puts a caught-up replica back in the ISR.
                rejoin_isr_on_unfence=False,
            ),
            lifecycle_config=LifecycleConfig(
                heartbeat_interval_ms=broker.heartbeat_interval_ms,
                request_timeout_ms=max(1000, min(broker.session_timeout_ms // 2, 5000)),
                shutdown_no_controller_grace_ms=raft.election_timeout_ms,
            ),
            controller_probe=driver_probe(driver),
        )

    def watch_peer_connections(self, peers) -> None:
        """Feed the controller what the peer listener sees (a
        broker/node/peer_connections.PeerConnections): a broker whose
        connections the peer ended is fenced after a short grace."""
        if self.service is not None:
            peers.on_gone = self.service.broker_connection_lost
            self.service.disconnected_brokers = peers.gone

    # ------------------------------------------------------------ handlers
    def client_handlers(self):
        return self.api.client_handlers()

    def peer_handlers(self):
        return self.api.peer_handlers()

    @property
    def client_types(self) -> frozenset[str]:
        return frozenset(self.client_handlers())

    @property
    def peer_types(self) -> frozenset[str]:
        return frozenset(self.peer_handlers())

    # ----------------------------------------------------------- lifecycle
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Run the controller service (if a controller) and the broker
        lifecycle (if a broker) until cancelled."""
        async with trio.open_nursery() as nursery:
            if self.service is not None:
                await nursery.start(self.service.run)
            if self.lifecycle is not None:
                await nursery.start(self.lifecycle.run)
            task_status.started()

    async def shutdown(self, timeout_s: float) -> bool:
        """Controlled shutdown of the broker role: move leaderships away,
        bounded by `timeout_s`. True when it finished in time."""
        if self.lifecycle is None:
            return True
        return await self.lifecycle.controlled_shutdown(timeout_s)

    def status(self) -> dict:
        lc = self.lifecycle
        return {
            "active_controller": self.service is not None and self.service.is_active(),
            "broker_state": None if lc is None else lc.state,
            "broker_epoch": None if lc is None else lc.broker_epoch,
            "fenced": None if lc is None else lc.fenced,
            "metadata_offset": self.metadata.image.offset,
        }
