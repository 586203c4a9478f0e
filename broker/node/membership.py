"""Metadata-quorum membership on the node: observers and voter changes.

Why: a node whose roles lack "controller" is not a voter; it follows the
metadata log as a Raft learner ("observer") so its MetadataImage stays
current. The Raft core knows members only by id (`ConfigState` carries no
addresses), so the node keeps an `AddressBook`: the static voters table
(authoritative: a harness may put proxies there, and it is never
overridden) plus addresses announced by nodes that are not in it.

How an observer joins: every `announce_interval_ms` a node missing from its
own voters table sends `JoinAsObserverRequest(node_id, peer_address)` to
every member it has an address for. Every receiver
records the address (so any future leader can replicate to it, and voters
can answer it once it is promoted); the Raft leader also proposes
`add_learner` when the node is not yet a member. Once a member, the node
keeps announcing, more slowly (`member_announce_interval_ms`), so a member
that restarted (the book is kept in memory only) learns the address again.

Voter changes (`rafka quorum add-voter|remove-voter`) are decided on the
Raft leader: a request from a tool (a "client" connection of the peer
listener) on another node is forwarded once to the leader's peer listener;
one from a peer is decided there or refused with NOT_CONTROLLER. When a change is refused:
broker/node/voter_policy.py. The address book: broker/node/address_book.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
import trio

from rafka.broker.node.messages import (
    AddVoterRequest,
    JoinAsObserverRequest,
    JoinAsObserverResponse,
    MembershipChangeResponse,
    RemoveVoterRequest,
)
from rafka.broker.node.address_book import AddressBook, MembershipError, parse_addr
from rafka.broker.node.voter_policy import add_voter_refusal, remove_voter_refusal
from rafka.netproto.connection import NotSentError
from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.raft.errors import (
    ConfChangeError,
    NotLeaderError,
    ProposalDroppedError,
    RaftError,
    RaftTimeoutError,
)
from rafka.raft.types import ConfChangeKind

log = structlog.get_logger("rafka.membership")

@dataclass(frozen=True)
class MembershipConfig:
    announce_interval_ms: int = 500  # not yet a member: ask to join this often
    member_announce_interval_ms: int = 3000  # a member: re-teach its address this often
    announce_timeout_ms: int = 1000  # per JoinAsObserver call
    conf_change_timeout_ms: int = 10_000  # a conf change's wait for commit + apply
    address_book_entries_max: int = 1024

    def __post_init__(self) -> None:
        for name in ("announce_interval_ms", "member_announce_interval_ms", "announce_timeout_ms",
                     "conf_change_timeout_ms", "address_book_entries_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"membership {name} must be >= 1")


class MembershipService:
    """The node's membership handlers and its announce loop (thin: reads the
    Raft driver, calls peers through `call_peer(addr, request, timeout_s)`)."""

    def __init__(self, node_id: int, driver, book: AddressBook, *, call_peer, forward,
                 announce: bool, peer_address: str, config: MembershipConfig | None = None) -> None:
        self.node_id = node_id
        self.driver = driver
        self.book = book
        self.call_peer = call_peer
        self.forward = forward
        self.announce = announce
        self.peer_address = peer_address
        self.config = config or MembershipConfig()
        self.member = False
        self.log = log.bind(node_id=node_id)

    @classmethod
    def for_node(cls, config, driver, book: AddressBook, *, call_peer, forward) -> "MembershipService":
        """Build from a broker.config.NodeConfig; a node missing from its own
        voters table announces itself (call `set_bound_port` once bound)."""
        peer = config.peer_listener
        return cls(
            config.node_id, driver, book, call_peer=call_peer, forward=forward,
            announce=not config.is_voter,
            peer_address=f"{peer.host}:{peer.port}",
        )

    def set_bound_port(self, peer_port: int) -> None:
        """A peer listener configured with port 0: announce the port it bound."""
        host, _, port = self.peer_address.rpartition(":")
        if port == "0":
            self.peer_address = f"{host}:{peer_port}"

    # ----------------------------------------------------------- handlers
    def tool_handlers(self) -> dict:
        """For tools (forwarded to the leader); peer_handlers for peers."""
        return {AddVoterRequest.TYPE: self.handle_tool_change, RemoveVoterRequest.TYPE: self.handle_tool_change}

    def peer_handlers(self) -> dict:
        return {
            AddVoterRequest.TYPE: self.handle_peer_change,
            RemoveVoterRequest.TYPE: self.handle_peer_change,
            JoinAsObserverRequest.TYPE: self.handle_join,
        }

    def _not_controller(self, leader_id) -> RafkaError:
        hint = f"; the leader is node {leader_id}" if leader_id is not None else "; no leader known"
        return RafkaError(ErrorCode.NOT_CONTROLLER, f"node {self.node_id} is not the Raft leader{hint}")

    async def handle_join(self, msg: JoinAsObserverRequest, ctx=None) -> JoinAsObserverResponse:
        claimed = getattr(ctx, "node_id", None)
        if claimed is not None and claimed != msg.node_id:
            raise RafkaError(ErrorCode.INVALID_REQUEST, f"node {claimed} cannot join as node {msg.node_id}")
        try:
            if self.book.learn(msg.node_id, parse_addr(msg.peer_address)):
                self.log.info("membership.address_learned", peer=msg.node_id, address=msg.peer_address)
        except MembershipError as exc:
            raise RafkaError(ErrorCode.INVALID_REQUEST, str(exc)) from None
        st = self.driver.status()
        members = set(st.voters) | set(st.learners)
        if st.is_leader and msg.node_id not in members:
            try:
                await self.driver.propose_conf_change(ConfChangeKind.ADD_LEARNER, msg.node_id,
                                                      timeout_s=self.config.conf_change_timeout_ms / 1000)
                self.log.info("membership.learner_added", learner=msg.node_id, term=st.term)
            except RaftError as exc:  # the joiner asks again on its next announce
                self.log.info("membership.add_learner_deferred", learner=msg.node_id, error=str(exc))
            st = self.driver.status()
            members = set(st.voters) | set(st.learners)
        return JoinAsObserverResponse(
            member=msg.node_id in members, leader_id=st.leader_id,
            peer_addresses=self.book.peer_table(),
        )

    async def handle_tool_change(self, msg, ctx=None) -> MembershipChangeResponse:
        st = self.driver.status()
        if st.is_leader:
            return await self._change(msg)
        leader_id = st.leader_id
        if leader_id is None:
            raise self._not_controller(None)
        timeout_s = self.config.conf_change_timeout_ms / 1000
        try:
            with trio.fail_after(timeout_s + 1):
                return await self.forward(leader_id, msg, timeout_s + 0.5)
        except NotSentError as exc:
            raise RafkaError(ErrorCode.NOT_CONTROLLER, f"could not reach the leader (node {leader_id}): "
                             f"{exc.message}") from None
        except trio.TooSlowError:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, f"{msg.TYPE} forwarded to node {leader_id}: no answer") from None

    async def handle_peer_change(self, msg, ctx=None) -> MembershipChangeResponse:
        st = self.driver.status()
        if not st.is_leader:
            raise self._not_controller(st.leader_id)
        return await self._change(msg)

    async def _change(self, msg) -> MembershipChangeResponse:
        st = self.driver.status()
        if isinstance(msg, AddVoterRequest):
            kind, refusal = ConfChangeKind.ADD_VOTER, add_voter_refusal(st, msg.node_id)
        else:
            kind, refusal = ConfChangeKind.REMOVE_VOTER, remove_voter_refusal(st, msg.node_id)
        if refusal is not None:
            raise RafkaError(ErrorCode.INVALID_REQUEST, refusal)
        try:
            await self.driver.propose_conf_change(kind, msg.node_id,
                                                  timeout_s=self.config.conf_change_timeout_ms / 1000)
        except ConfChangeError as exc:
            raise RafkaError(ErrorCode.INVALID_REQUEST, str(exc)) from None
        except (NotLeaderError, ProposalDroppedError) as exc:
            raise RafkaError(ErrorCode.NOT_CONTROLLER, f"{kind.value} of node {msg.node_id} not appended: "
                             f"{exc}") from None
        except (RaftTimeoutError, RaftError) as exc:
            raise RafkaError(ErrorCode.REQUEST_TIMED_OUT, f"{kind.value} of node {msg.node_id}: outcome unknown "
                             f"({exc})") from None
        self.log.info("membership.changed", change=kind.value, member=msg.node_id, term=st.term)
        st = self.driver.status()
        return MembershipChangeResponse(voters=list(st.voters), observers=list(st.learners))

    # ------------------------------------------------------- announce loop
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Announce this node's address until cancelled (only for a node
        missing from its own voters table)."""
        task_status.started()
        if not self.announce:
            return
        while True:
            await self.announce_once()
            interval = self.config.member_announce_interval_ms if self.member else self.config.announce_interval_ms
            await trio.sleep(interval / 1000)

    async def announce_once(self) -> None:
        request = JoinAsObserverRequest(self.node_id, self.peer_address)
        timeout_s = self.config.announce_timeout_ms / 1000
        member = False
        for node_id in self.book.ids():
            addr = self.book.get(node_id)
            if node_id == self.node_id or addr is None:
                continue
            try:
                with trio.fail_after(timeout_s + 0.5):
                    resp = await self.call_peer(addr, request, timeout_s)
            except (RafkaError, trio.TooSlowError, OSError, trio.BrokenResourceError) as exc:
                self.log.debug("membership.announce_failed", peer=node_id, error=repr(exc))
                continue
            if not isinstance(resp, JoinAsObserverResponse):
                continue
            member = member or resp.member
            self._learn_table(resp)
        if member and not self.member:
            self.log.info("membership.joined", term=self.driver.term)
        self.member = member or self.member and self._in_config()

    def _in_config(self) -> bool:
        st = self.driver.status()
        return self.node_id in set(st.voters) | set(st.learners)

    def _learn_table(self, resp: JoinAsObserverResponse) -> None:
        for key, text in resp.peer_addresses.items():
            try:
                node_id = int(key)
                if node_id != self.node_id:
                    self.book.learn(node_id, parse_addr(text))
            except (ValueError, MembershipError) as exc:
                self.log.debug("membership.bad_address", entry=key, error=str(exc))
