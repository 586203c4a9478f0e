"""Typed errors of the Raft core and its storages (bad input and bad state
raise these; `assert` is for invariants only)."""

from __future__ import annotations


class RaftError(Exception):
    """Base of every error the raft package raises on purpose."""


class RaftConfigError(RaftError, ValueError):
    """A RaftConfig setting is out of range."""


class NotLeaderError(RaftError):
    """The operation needs the leader; `leader_id` is the best hint (None
    when no leader is known)."""

    def __init__(self, leader_id: int | None, message: str = "") -> None:
        super().__init__(message or f"not the leader (leader hint: {leader_id})")
        self.leader_id = leader_id


class ProposalDroppedError(RaftError):
    """The leader refused a proposal for now (leadership transfer in progress,
    uncommitted-bytes limit reached, queue full). Retrying later may work."""


class ConfChangeError(RaftError):
    """A configuration change was refused (one already pending, node not a
    caught-up learner, unknown node, would leave no voter)."""


class TransferError(RaftError):
    """Leadership transfer refused (target unknown or not a voter)."""


class ReadIndexError(RaftError):
    """A ReadIndex request was refused (too many pending)."""


class CompactedError(RaftError):
    """The requested index is below the first index kept by the storage."""


class UnavailableError(RaftError):
    """The requested index is above the storage's last index."""


class StorageError(RaftError):
    """Persistent Raft state is unusable (corrupt hard-state or snapshot)."""


class RaftTimeoutError(RaftError):
    """A driver operation (propose, read_index, transfer) did not finish in
    time; a proposal may still commit later (outcome unknown)."""


class DriverStoppedError(RaftError):
    """The driver is not running, so the operation cannot proceed."""
