"""The node's address book: node id -> peer address (and client address).

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
    """node id -> peer address (and client address when announced).

    Invariant: an id of the static voters table always maps to its static
    address; announced addresses only fill ids missing from it."""

    def __init__(self, static: dict[int, Addr], static_clients: dict[int, str] | None = None,
                 entries_max: int = 1024) -> None:
        self.static = dict(static)
        self.entries_max = entries_max
        self.learned: dict[int, Addr] = {}
        self.clients: dict[int, str] = dict(static_clients or {})

    def get(self, node_id: int) -> Addr | None:
        return self.static.get(node_id) or self.learned.get(node_id)

    def ids(self) -> list[int]:
        return sorted(set(self.static) | set(self.learned))

    def client_address(self, node_id: int) -> str | None:
        return self.clients.get(node_id)

    def learn(self, node_id: int, peer: Addr, client: str | None = None) -> bool:
        """Record an announced address; True when the book changed.
        Raises MembershipError when a new id would exceed `entries_max`."""
        if node_id <= 0:
            raise MembershipError(f"bad node id {node_id}")
        changed = False
        if client is not None and self.clients.get(node_id) != client:
            if node_id not in self.clients and len(self.clients) >= self.entries_max:
                raise MembershipError(f"address book full ({self.entries_max} entries)")
            self.clients[node_id] = client
            changed = True
        if node_id in self.static or self.learned.get(node_id) == peer:
            return changed
        if node_id not in self.learned and len(self.learned) + len(self.static) >= self.entries_max:
            raise MembershipError(f"address book full ({self.entries_max} entries)")
        self.learned[node_id] = peer
        return True

    def peer_table(self) -> dict[str, str]:
        return {str(i): f"{a[0]}:{a[1]}" for i in self.ids() if (a := self.get(i)) is not None}

    def client_table(self) -> dict[str, str]:
        return {str(i): a for i, a in sorted(self.clients.items())}
