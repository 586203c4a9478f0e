"""The key-value state machine the simulated clients drive through Raft.

Why: state-machine safety and linearizability are only meaningful against a
real state machine. Commands are msgpack maps proposed as Raft entry data;
each node applies committed entries in log order to its own `KvStateMachine`.

Commands carry (client_id, op_id). A client has at most one operation in
flight and op ids only grow, so the machine applies a command only when its
op id is newer than the last one applied for that client (Raft thesis §6.3
client sessions): a proposal duplicated by the network is applied once.

Invariants: `applied_index` only grows (except on `restore`); `state_hash()`
is a pure function of (data, sessions), so two nodes that applied the same
entries have the same hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgpack


class BadCommand(ValueError):
    """Entry data is not a well-formed KV command."""


OPS = ("put", "get", "cas")
# The value of a key never written. Not None, so the linearizability checker
# (where None means "unknown output") checks reads of missing keys strictly.
ABSENT = 0


@dataclass(frozen=True)
class Command:
    client_id: int
    op_id: int
    op: str  # put | get | cas
    key: str
    value: int | None = None  # put: new value; cas: new value
    expected: int | None = None  # cas: required current value

    def encode(self) -> bytes:
        return msgpack.packb(
            [self.client_id, self.op_id, self.op, self.key, self.value, self.expected]
        )

    @classmethod
    def decode(cls, data: bytes) -> "Command":
        try:
            fields = msgpack.unpackb(data)
        except Exception as exc:  # msgpack raises several unrelated types
            raise BadCommand(f"undecodable command: {exc}") from None
        if not isinstance(fields, list) or len(fields) != 6:
            raise BadCommand(f"command must be a 6-item list, got {fields!r}")
        cmd = cls(*fields)
        if cmd.op not in OPS:
            raise BadCommand(f"unknown op {cmd.op!r}")
        return cmd


@dataclass(frozen=True)
class Outcome:
    """What applying a command did. `ok` is False for a cas whose expected
    value did not match (the cas surely did not happen)."""

    ok: bool
    value: int | None = None
    duplicate: bool = False


class KvStateMachine:
    """Dict of str -> int with put/get/cas and per-client dedup sessions."""

    def __init__(self) -> None:
        self.data: dict[str, int] = {}
        self.sessions: dict[int, tuple[int, Outcome]] = {}
        self.applied_index = 0

    def apply(self, index: int, data: bytes) -> Outcome | None:
        """Apply a NORMAL entry's data at `index`. Empty data (a probe or
        no-op) changes nothing and returns None."""
        if index <= self.applied_index:
            raise BadCommand(f"index {index} already applied (applied={self.applied_index})")
        self.applied_index = index
        if not data:
            return None
        cmd = Command.decode(data)
        last = self.sessions.get(cmd.client_id)
        if last is not None and cmd.op_id <= last[0]:
            if cmd.op_id == last[0]:
                return Outcome(last[1].ok, last[1].value, duplicate=True)
            return Outcome(False, None, duplicate=True)
        if cmd.op == "put":
            self.data[cmd.key] = cmd.value
            outcome = Outcome(True, cmd.value)
        elif cmd.op == "get":
            outcome = Outcome(True, self.data.get(cmd.key, ABSENT))
        else:
            current = self.data.get(cmd.key, ABSENT)
            if current == cmd.expected:
                self.data[cmd.key] = cmd.value
                outcome = Outcome(True, cmd.value)
            else:
                outcome = Outcome(False, current)
        self.sessions[cmd.client_id] = (cmd.op_id, outcome)
        return outcome

    def skip(self, index: int) -> None:
        """Advance over a non-KV entry (config change, leader no-op)."""
        if index <= self.applied_index:
            raise BadCommand(f"index {index} already applied (applied={self.applied_index})")
        self.applied_index = index

    def read(self, key: str) -> int:
        return self.data.get(key, ABSENT)

    def state_hash(self) -> str:
        return hashlib.blake2b(self._encode_state(), digest_size=8).hexdigest()

    def _encode_state(self) -> bytes:
        sessions = {c: [op, o.ok, o.value] for c, (op, o) in self.sessions.items()}
        return msgpack.packb([sorted(self.data.items()), sorted(sessions.items())])

    def snapshot(self) -> bytes:
        return msgpack.packb([self.applied_index, self._encode_state()])

    def restore(self, blob: bytes, index: int | None = None) -> None:
        """Replace the whole state with a snapshot's (as on snapshot install)."""
        if not blob:
            self.__init__()
            if index is not None:
                self.applied_index = index
            return
        applied, state = msgpack.unpackb(blob, strict_map_key=False)
        items, sessions = msgpack.unpackb(state, strict_map_key=False)
        self.data = {k: v for k, v in items}
        self.sessions = {c: (op, Outcome(ok, value)) for c, (op, ok, value) in sessions}
        self.applied_index = applied if index is None else index


def describe(data: bytes) -> str:
    """Short text for a command in traces; never raises."""
    if not data:
        return "probe"
    try:
        c = Command.decode(data)
    except BadCommand:
        return f"<{len(data)}B>"
    args: Any = c.value if c.op == "put" else (c.expected, c.value) if c.op == "cas" else ""
    return f"c{c.client_id}.{c.op_id} {c.op} {c.key} {args}"
