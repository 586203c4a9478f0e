"""netproto: bytes on the wire (framing, typed msgpack messages, RPC).

Imports nothing else of the project. The stable entry points::

    from netproto.schema import Message, register, to_wire, from_wire, InvalidMessage
    from netproto.framing import encode_frame, FrameDecoder, FrameError
    from netproto.errors import ErrorCode, RafkaError
    from netproto.rpc import serve, open_connection, open_pool, open_cluster_client, NetLimits
"""

from netproto.errors import ErrorCode, RafkaError
from netproto.framing import FrameDecoder, FrameError, encode_frame
from netproto.limits import NetLimits
from netproto.schema import InvalidMessage, Message, from_wire, register, to_wire

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
