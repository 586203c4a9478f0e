"""One group member and the results the coordinator hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]          # (name, metadata), the member's preference order
    assignment: bytes = b""
    # Session: the member is removed when `expires_at_ms` passes while it
    # awaits neither a join nor a sync response.
    expires_at_ms: int = 0
    join_token: Any = None                       # an unanswered JoinGroup
    sync_token: Any = None                       # an unanswered SyncGroup
    is_new: bool = False                         # joined during the current rebalance

    @property
    def awaiting_join(self) -> bool:
        return self.join_token is not None

    @property
    def awaiting_sync(self) -> bool:
        return self.sync_token is not None

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def metadata_for(self, protocol: str) -> bytes:
        for name, meta in self.protocols:
            if name == protocol:
                return meta
        raise KeyError(protocol)

    def same_protocols(self, protocols: list[tuple[str, bytes]]) -> bool:
        return list(self.protocols) == list(protocols)


@dataclass(frozen=True)
class JoinResult:
    error: int
    member_id: str
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    skip_assignment: bool = False
    # (member_id, group_instance_id, metadata): only for the leader.
    members: tuple[tuple[str, str | None, bytes], ...] = ()


@dataclass(frozen=True)
class SyncResult:
    error: int
    assignment: bytes = b""
    protocol_type: str | None = None
    protocol_name: str | None = None


@dataclass(frozen=True)
class MemberLeave:
    member_id: str
    group_instance_id: str | None
    error: int


@dataclass
class Outbox:
    """Deferred answers: (token, JoinResult | SyncResult) the shell delivers."""

    replies: list[tuple[Any, Any]] = field(default_factory=list)

    def reply(self, token: Any, result: Any) -> None:
        if token is not None:
            self.replies.append((token, result))

    def drain(self) -> list[tuple[Any, Any]]:
        out, self.replies = self.replies, []
        return out
