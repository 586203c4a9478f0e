"""One simulated node: a RaftCore, its durable MemoryStorage, and its KV
state machine, with crash points inside Ready handling.

Why: Raft's durability rules (persist before send) are only tested if a crash
can land between any two steps of handling a Ready. `handle_ready` performs
the steps in the order the real driver (raft/driver.py) does — send the
leader's pipelined appends (`core.messages_before_persist`); persist
snapshot, entries, hard state; send the other messages; restore/apply;
advance — and an armed crash point stops it early:

- "before_persist": nothing of this Ready reaches the disk or the network;
- "after_early_send": only on a leader's Ready that pipelines new entries:
  the followers may get (and persist, and acknowledge) entries the leader
  never persisted; the leader loses them. Safe only because the leader counts
  its own copy toward commit after `advance`, never at append time;
- "torn": the snapshot and only a prefix of the entries reach the disk, the
  hard state does not (a torn last write);
- "after_persist": everything is durable, but only the pipelined messages
  were sent;
- "after_send": messages left, nothing was applied;
- "after_vote": like after_send, but only on a Ready that casts a new vote
  (the moment a lost vote would let the node vote twice in one term).

Storage, two kinds (SimConfig.storage):
- "memory": the MemoryStorage object IS the disk: the core only reads it and
  only this module writes it, so a crash simply drops the core (and its
  un-persisted unstable tail);
- "disk": the real raft.disk_storage.DiskStorage (and its log/ PartitionLog)
  over tests.sim.crashfs.CrashFs. A crash also crashes the node's file
  system (what was not fsynced is lost; a third of crashes keep a torn mix
  instead, see crashfs) and reopens the storage, which runs the real
  recovery. A crash can also be armed inside the file layer ("fs:N": the
  N-th file operation from now never happens), so it lands inside append,
  sync, a conflict truncation, a snapshot install or a compaction.
A restart builds a new RaftCore on the storage and restores the KV state
machine from the stored snapshot.

Invariants: while `core` is None the node is down and takes no input; every
write to storage is reported to the SafetyChecker (log matching, commit); a
leader's own match index never exceeds its durable last index ("leader
durability", checked after every Ready).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from rafka.raft.config import RaftConfig
from rafka.raft.core import RaftCore
from rafka.raft.errors import CompactedError, UnavailableError
from rafka.raft.storage import MemoryStorage
from rafka.raft.types import ConfigState, Entry, EntryKind, Ready, Role
from tests.sim.crashfs import CrashFs, SimulatedCrash
from tests.sim.invariants import COMPACTED, InvariantViolation, SafetyChecker
from tests.sim.kv import KvStateMachine, describe
from tests.sim.trace import Trace

CRASH_POINTS = ("before_persist", "after_early_send", "torn", "after_persist", "after_send", "after_vote")


class NodeCrashed(Exception):
    """Raised inside handle_ready when an armed crash point fires."""


@dataclass
class SimNode:
    node_id: int
    raft_config: RaftConfig
    rng: random.Random
    checker: SafetyChecker
    trace: Trace
    storage: MemoryStorage
    now: Callable[[], int]
    disk: "SimDisk | None" = None  # set when the node runs on DiskStorage
    core: RaftCore | None = None
    kv: KvStateMachine = field(default_factory=KvStateMachine)
    incarnation: int = 0
    crash_point: str | None = None
    bounce_ms: int | None = None  # when set, the next crash restarts after this downtime
    commit_seen: int = 0
    last_role: Role | None = None
    restored_index: int = 0  # index of the snapshot the KV was restored from at start
    _last_vote: tuple = (0, None)
    _fired: str = ""  # the crash point that fired last (for the trace)
    _durable_floor: tuple = (0, 0)  # see _check_storage_durable
    _durable_vote: tuple = (0, None)
    _vote_in_flight: tuple | None = None
    # called with the node when it becomes leader (after its Ready is handled)
    on_new_leader: Callable | None = None
    # hooks the cluster installs: on_apply(node, entry, outcome), on_read_state(node, rs)
    on_apply: Callable | None = None
    on_read_state: Callable | None = None

    @classmethod
    def bootstrap(cls, node_id: int, voters: frozenset[int], disk: "SimDisk | None" = None, **kw) -> "SimNode":
        """A node formatted with the initial configuration (or an empty one
        for a node that will join as a learner), on memory or disk storage."""
        if disk is not None:
            disk.bootstrap = ConfigState(voters)
            storage = disk.open()
        else:
            storage = MemoryStorage(ConfigState(voters))
        node = cls(node_id=node_id, storage=storage, disk=disk, **kw)
        hs = storage.hard_state
        node._durable_vote = (hs.term, hs.vote)
        node.start()
        return node

    # -- lifecycle ---------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self.core is not None

    def start(self) -> None:
        """(Re)start from durable storage: new core, KV from the snapshot."""
        assert self.core is None, "start on a running node"
        self.incarnation += 1
        self.crash_point = None
        self.bounce_ms = None
        self._fired = ""
        self.core = RaftCore(self.node_id, self.raft_config, self.storage, self.rng)
        snap = self.storage.snapshot()
        self.kv = KvStateMachine()
        self.restored_index = snap.meta.index
        if not snap.is_empty:
            self.kv.restore(snap.data, snap.meta.index)
            self.checker.on_restore(self.node_id, snap.meta.index, snap.meta.term, self.kv.state_hash())
        self.last_role = None
        self.trace.add(self.now(), self.node_id, "start",
                       f"incarnation={self.incarnation} {self._brief()}")

    def crash(self, why: str = "crash") -> None:
        if self.core is None:
            return
        self.core = None
        self.crash_point = None
        self.checker.on_not_leader(self.node_id)
        self.trace.add(self.now(), self.node_id, "crash", why)
        if self.disk is not None:
            torn = self.disk.power_loss(self.rng)
            self.storage = self.disk.open()
            self.trace.add(self.now(), self.node_id, "disk",
                           f"power loss{' (torn)' if torn else ''}, reopened: {self._brief()}")
            self._check_storage_durable()
            self._durable_vote = (self.storage.hard_state.term, self.storage.hard_state.vote)
            self._vote_in_flight = None

    def _brief(self) -> str:
        hs, _ = self.storage.initial_state()
        return (f"term={hs.term} vote={hs.vote} commit={hs.commit} "
                f"log=[{self.storage.first_index()}..{self.storage.last_index()}]")

    # -- log lookups for the checker -----------------------------------------

    def term_at(self, index: int) -> int | None:
        """Term of the core's log at index (None past the end, COMPACTED below)."""
        core = self.core
        try:
            if core is not None:
                return core.log.term(index)
            return self.storage.term(index)
        except CompactedError:
            return COMPACTED
        except UnavailableError:
            return None

    # -- the Ready loop -------------------------------------------------------

    def drain(self, send: Callable) -> None:
        """Handle every pending Ready; `send(msg)` puts a message on the
        network. Stops early if the node crashes at an armed crash point."""
        try:
            while self.core is not None and self.core.has_ready():
                self.handle_ready(self.core.ready(), send)
        except NodeCrashed:
            self.trace.tally["crash-point " + self._fired] += 1
            self.crash(f"at crash point {self._fired}")
        except SimulatedCrash as exc:
            self.trace.tally["crash-point fs"] += 1
            self.crash(f"inside the file layer, before {exc}")
        if self.core is not None:
            self._observe_role()

    def _maybe_crash(self, point: str) -> None:
        if self.crash_point == point:
            if self._fired != "after_vote":
                self._fired = point
            raise NodeCrashed(point)

    def handle_ready(self, rd: Ready, send: Callable) -> None:
        core = self.core
        armed = self.crash_point is not None and rd.must_sync
        if armed and self.crash_point == "after_vote":
            hs = rd.hard_state
            armed = hs is not None and hs.vote is not None and (hs.term, hs.vote) != self._last_vote
            if armed:
                self.crash_point = "after_send"
                self._fired = "after_vote"
        if armed:
            self._maybe_crash("before_persist")
        early = core.messages_before_persist(rd)
        for msg in early:
            send(msg)
        if armed and early and rd.entries:
            self._maybe_crash("after_early_send")
        if rd.snapshot is not None:
            self._lower_floor(rd.snapshot.meta.index)  # an install replaces the log after it
            self.storage.apply_snapshot(rd.snapshot)
            self._durable_floor = (rd.snapshot.meta.index, rd.snapshot.meta.term)
        entries = rd.entries
        if entries and entries[0].index <= self._durable_floor[0]:
            self._lower_floor(entries[0].index - 1)  # a conflict: our suffix may go
        if armed and self.crash_point == "torn" and entries:
            entries = entries[: self.rng.randrange(len(entries))]
        if entries:
            self.storage.append(entries)
            self._check_appended(entries)
        if armed:
            self._maybe_crash("torn")  # on disk: the torn prefix was never synced
        self.storage.sync()
        if entries or rd.snapshot is not None:
            self._raise_floor()
        if rd.hard_state is not None:
            self._vote_in_flight = (rd.hard_state.term, rd.hard_state.vote)
            self.storage.set_hard_state(rd.hard_state)
            self._durable_vote, self._vote_in_flight = self._vote_in_flight, None
            self._last_vote = (rd.hard_state.term, rd.hard_state.vote)
            self._check_commit(rd.hard_state.commit)
        if armed:
            self._maybe_crash("after_persist")
        for msg in rd.messages[len(early):]:
            send(msg)
        if armed:
            self._maybe_crash("after_send")
        if rd.soft_state is not None:
            ss = rd.soft_state
            self.trace.add(self.now(), self.node_id, "role",
                           f"{ss.role.value} term={ss.term} leader={ss.leader_id} ({ss.reason})")
        if rd.snapshot is not None:
            meta = rd.snapshot.meta
            self.kv.restore(rd.snapshot.data, meta.index)
            self.checker.on_restore(self.node_id, meta.index, meta.term, self.kv.state_hash())
            self.trace.add(self.now(), self.node_id, "install-snap", f"index={meta.index} term={meta.term}")
        for entry in rd.committed_entries:
            self._apply(entry)
        for rs in rd.read_states:
            if self.on_read_state is not None:
                self.on_read_state(self, rs)
        core.advance(rd)
        if core.role == Role.LEADER:
            self._check_leader_durable()

    # -- storage durability (disk storage) ----------------------------------------
    #
    # `_durable_floor` = (index, term): every entry up to index was synced and
    # not since cut by a conflict, so no crash may lose it (a snapshot covering
    # it counts); `_durable_vote` = the last (term, vote) written. Checked after
    # every power loss: "storage durability" (what fsync promised survives).

    def _term_or_snapshot(self, index: int) -> int:
        snap = self.storage.snapshot().meta
        if index <= snap.index:
            return snap.term if index == snap.index else COMPACTED
        return self.storage.term(index)

    def _lower_floor(self, index: int) -> None:
        if index < self._durable_floor[0]:
            self._durable_floor = (index, self._term_or_snapshot(index))

    def _raise_floor(self) -> None:
        last = self.storage.last_index()
        self._durable_floor = (last, self._term_or_snapshot(last))

    def _check_storage_durable(self) -> None:
        index, term = self._durable_floor
        s = self.storage
        snap = s.snapshot().meta
        if s.last_index() < index:
            raise InvariantViolation(
                "storage durability",
                f"n{self.node_id} synced entries up to {index} but after a power loss has only "
                f"[{s.first_index()}..{s.last_index()}] (snapshot {snap.index})")
        if index > snap.index and term != COMPACTED and s.term(index) != term:
            raise InvariantViolation(
                "storage durability",
                f"n{self.node_id} synced entry {index} of term {term}, after a power loss it has term {s.term(index)}")
        hs = s.hard_state
        if (hs.term, hs.vote) not in (self._durable_vote, self._vote_in_flight):  # in flight: old or new
            raise InvariantViolation(
                "storage durability",
                f"n{self.node_id} wrote term/vote {self._durable_vote}, after a power loss has {(hs.term, hs.vote)}")

    def _check_leader_durable(self) -> None:
        """A leader counts its own log toward commit only once it is on disk:
        otherwise a crash could lose an entry a quorum was credited with."""
        me = self.core.prs.get(self.node_id)
        durable = self.storage.last_index()
        if me is not None and me.match > durable:
            raise InvariantViolation(
                "leader durability",
                f"n{self.node_id} leader of term {self.core.term} counts match {me.match} "
                f"but only {durable} is durable",
            )

    def _check_appended(self, entries: list[Entry]) -> None:
        snap_index = self.storage.snapshot().meta.index
        for e in entries:
            if e.index <= snap_index:
                continue
            prev = self.storage.term(e.index - 1)
            self.checker.on_append(self.node_id, e.index, e.term, (e.kind, e.data), prev)

    def _check_commit(self, commit: int) -> None:
        floor = self.storage.snapshot().meta.index
        lo = max(self.commit_seen + 1, floor + 1)
        if commit >= lo:
            term = self.core.term if self.core is not None else 0
            self.checker.on_commit(self.node_id, term, lo, commit, self.term_at)
        self.commit_seen = max(self.commit_seen, commit)

    def _apply(self, entry: Entry) -> None:
        if entry.index != self.kv.applied_index + 1:
            # also catches a restarted core re-delivering entries its
            # restored snapshot already covers
            raise InvariantViolation(
                "state-machine safety",
                f"n{self.node_id} applies index {entry.index} after {self.kv.applied_index} (gap or repeat)",
            )
        outcome = None
        if entry.kind == EntryKind.NORMAL:
            outcome = self.kv.apply(entry.index, entry.data)
        else:
            self.kv.skip(entry.index)
        self.checker.on_apply(self.node_id, entry.index, entry.term, (entry.kind, entry.data),
                              self.kv.state_hash())
        what = describe(entry.data) if entry.kind == EntryKind.NORMAL else EntryKind(entry.kind).name
        self.trace.add(self.now(), self.node_id, "apply", f"{entry.index}:{entry.term} {what}")
        if self.on_apply is not None:
            self.on_apply(self, entry, outcome)

    def _observe_role(self) -> None:
        core = self.core
        if core.role == Role.LEADER:
            self.checker.on_leader(self.node_id, core.term, self.term_at)
            if self.last_role != Role.LEADER and self.on_new_leader is not None:
                self.last_role = core.role
                self.on_new_leader(self)
        elif self.last_role == Role.LEADER:
            self.checker.on_not_leader(self.node_id)
        self.last_role = core.role

    # -- snapshots -------------------------------------------------------------

    def take_snapshot(self, keep_entries: int = 0) -> int | None:
        """Snapshot the KV at its applied index and compact the log, keeping
        `keep_entries` entries before the snapshot index. Returns the index."""
        core = self.core
        if core is None:
            return None
        index = self.kv.applied_index
        if index <= self.storage.snapshot().meta.index:
            return None
        snap = core.compact(index, self.kv.snapshot())
        try:
            self.storage.create_snapshot(snap)
            self.storage.compact(max(self.storage.first_index() - 1, index - keep_entries))
        except SimulatedCrash as exc:
            self.trace.tally["crash-point fs"] += 1
            self.crash(f"inside the file layer, before {exc}")
            return None
        self.trace.add(self.now(), self.node_id, "snapshot", f"index={index} keep={keep_entries}")
        return index


@dataclass
class SimDisk:
    """One node's disk: a CrashFs holding its metadata directory, and how to
    (re)open DiskStorage on it. `torn_rate`: the share of power losses that
    keep a torn mix of unsynced pages instead of losing them all."""

    node_id: int
    log_config: object  # a rafka.log.config.LogConfig
    torn_rate: float = 0.3
    fs: CrashFs = field(default_factory=CrashFs)
    bootstrap: ConfigState = field(default_factory=ConfigState)
    path: str = "/data/metadata"

    def open(self):
        from rafka.raft.disk_storage import DiskStorage

        return DiskStorage.open(self.path, self.bootstrap, log_config=self.log_config, fs=self.fs,
                                now_ms=lambda: 0, log_fields={"node_id": self.node_id}, logger=_quiet_logger())

    def power_loss(self, rng: random.Random) -> bool:
        torn = rng.random() < self.torn_rate
        self.fs.crash(rng, torn=torn)
        return torn

    def arm(self, rng: random.Random, ops_max: int = 40) -> str:
        """Arm a crash inside the file layer: at a random operation soon, or
        a few operations after the next cut (ftruncate), the window in which
        a truncation that rewrites kept entries must already be safe."""
        if rng.random() < 0.5:
            n = rng.randint(1, ops_max)
            self.fs.arm(n)
            return f"operation {n}"
        n = rng.randint(1, 6)
        self.fs.arm_after("ftruncate", n)
        return f"operation {n} after the next cut"


_QUIET = None


def _quiet_logger():
    """A structlog logger that drops everything: thousands of simulated opens
    and truncations must not print (the trace says what happened)."""
    global _QUIET
    if _QUIET is None:
        import logging

        import structlog

        _QUIET = structlog.wrap_logger(structlog.PrintLogger(),
                                       wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    return _QUIET
