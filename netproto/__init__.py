"""netproto: bytes on the wire (framing, typed msgpack messages, RPC).

Imports nothing else of the project. The stable entry points::

    from rafka.netproto.schema import Message, register, to_wire, from_wire, InvalidMessage
    from rafka.netproto.framing import encode_frame, FrameDecoder, FrameError
    from rafka.netproto.errors import ErrorCode, RafkaError
    from rafka.netproto.rpc import serve, open_connection, open_pool, open_cluster_client, NetLimits
"""

from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.framing import FrameDecoder, FrameError, encode_frame
from rafka.netproto.limits import NetLimits
from rafka.netproto.schema import InvalidMessage, Message, from_wire, register, to_wire

__all__ = [
    "ErrorCode",
    "FrameDecoder",
    "FrameError",
    "InvalidMessage",
    "Message",
    "NetLimits",
    "RafkaError",
    "encode_frame",
    "from_wire",
    "register",
    "to_wire",
]
