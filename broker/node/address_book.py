"""The node's address book: node id -> peer address.

Why: the Raft core knows members only by id (`ConfigState` carries no
addresses). The static voters table of node.toml is authoritative (a harness
may put proxies there, and it is never overridden); observers announce their
own addresses (JoinAsObserver, broker/node/membership.py), which only fill
ids missing from it. Bounded by `entries_max`.
"""

from __future__ import annotations

from rafka.netproto.addresses import Addr, AddressError, as_addr


class MembershipError(Exception):
    """Bad membership input (an address that does not parse, a full book)."""


def parse_addr(text: str) -> Addr:
    """An announced peer address (netproto.addresses rules); MembershipError when bad."""
    try:
        return as_addr(text)
    except AddressError as exc:
        raise MembershipError(str(exc)) from None


class AddressBook:
    """node id -> peer address.

    Invariant: an id of the static voters table always maps to its static
    address; announced addresses only fill ids missing from it."""

    def __init__(self, static: dict[int, Addr], entries_max: int = 1024) -> None:
        self.static = dict(static)
        self.entries_max = entries_max
        self.learned: dict[int, Addr] = {}

    def get(self, node_id: int) -> Addr | None:
        return self.static.get(node_id) or self.learned.get(node_id)

    def ids(self) -> list[int]:
        return sorted(set(self.static) | set(self.learned))

    def address_text(self, node_id: int) -> str | None:
        """"host:port" of node_id's peer listener, or None when unknown."""
        a = self.get(node_id)
        return None if a is None else f"{a[0]}:{a[1]}"

    def learn(self, node_id: int, peer: Addr) -> bool:
        """Record an announced address; True when the book changed.
        Raises MembershipError when a new id would exceed `entries_max`."""
        if node_id <= 0:
            raise MembershipError(f"bad node id {node_id}")
        if node_id in self.static or self.learned.get(node_id) == peer:
            return False
        if node_id not in self.learned and len(self.learned) + len(self.static) >= self.entries_max:
            raise MembershipError(f"address book full ({self.entries_max} entries)")
        self.learned[node_id] = peer
        return True

    def peer_table(self) -> dict[str, str]:
        return {str(i): f"{a[0]}:{a[1]}" for i in self.ids() if (a := self.get(i)) is not None}
