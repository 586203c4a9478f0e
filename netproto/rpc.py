"""The RPC API of netproto in one import (see each module for details).

- ``serve`` / ``RequestContext`` (netproto.server): a listener serving a
  handler, accepting only the message types it is given.
- ``open_connection`` / ``Connection`` / ``NotSentError``
  (netproto.connection): one handshaken client connection with correlation
  ids, several calls in flight, per-call deadlines, one-way sends.
- ``open_pool`` / ``Pool`` / ``parse_addr`` (netproto.pool): one connection
  per destination with reconnect, backoff and bounded one-way queues (the
  Raft transport).
- ``open_cluster_client`` / ``ClusterClient`` (netproto.cluster_client): call
  any reachable node of a bootstrap list (the CLI).
- ``NetLimits`` (netproto.limits): every bound and deadline.
- The handshake (netproto.handshake): ``PROTOCOL_VERSION``, kinds
  ``KIND_CLIENT`` / ``KIND_PEER``, ``Ack`` (the reply to a request whose
  handler returned None).
"""

from __future__ import annotations

from rafka.netproto.cluster_client import ClusterClient, open_cluster_client, parse_bootstrap
from rafka.netproto.connection import Connection, NotSentError, open_connection
from rafka.netproto.handshake import KIND_CLIENT, KIND_PEER, PROTOCOL_VERSION, Ack
from rafka.netproto.limits import NetLimits
from rafka.netproto.pool import Pool, open_pool, parse_addr
from rafka.netproto.server import RequestContext, serve

__all__ = [
    "Ack",
    "ClusterClient",
    "Connection",
    "KIND_CLIENT",
    "KIND_PEER",
    "NetLimits",
    "NotSentError",
    "PROTOCOL_VERSION",
    "Pool",
    "RequestContext",
    "open_cluster_client",
    "open_connection",
    "open_pool",
    "parse_addr",
    "parse_bootstrap",
    "serve",
]
