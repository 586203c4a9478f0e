"""Size-prefixed frames from a byte stream, bounded.

A frame is a 4-byte big-endian signed size followed by that many bytes. A
size below the smallest request header or above `frame_bytes_max` is
refused before any of the body is buffered, so a hostile length never
costs memory.
"""

from __future__ import annotations

import struct

from rafka.broker.kafka.errors import MalformedRequest
from rafka.netproto.framing import Pieces, PiecesReading

_SIZE = struct.Struct(">i")
# api_key + api_version + correlation_id
FRAME_BYTES_MIN = 8


class FrameBuffer(PiecesReading):
    _NO_FRAME = None
    _deliver = staticmethod(bytes)  # a request frame is hashed and sliced: bytes

    def __init__(self, frame_bytes_max: int) -> None:
        self.frame_bytes_max = frame_bytes_max
        self._buf = bytearray()
        self._need: int | None = None  # size of the frame being read
        self._pieces: Pieces | None = None  # that frame, when large, as pieces
        # Set when a bad size was read after complete frames: those frames
        # are returned first, the next feed() raises this.
        self.error: MalformedRequest | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf) + (self._pieces.have if self._pieces is not None else 0)

    @property
    def pending_size(self) -> int | None:
        """The size of the frame being read, once its prefix is in."""
        return self._need

    @property
    def empty(self) -> bool:
        return not self._buf and self._pieces is None

    def feed(self, data: bytes) -> list[bytes]:
        """Complete frames (without their size) after appending `data`.
        Raises MalformedRequest at a bad size (after any complete frames
        before it have been returned by a call: check `error`)."""
        if self.error is not None:
            raise self.error
        out: list[bytes] = []
        if self._pieces is not None:
            payload, data = self._pieces.add(data)
            if payload is None:
                return out
            out.append(self._deliver(payload))
            self._pieces = None
            self._need = None
        self._buf += data
        pos = 0
        buf = self._buf
        while True:
            if self._need is None:
                if len(buf) - pos < 4:
                    break
                (size,) = _SIZE.unpack_from(buf, pos)
                if size < FRAME_BYTES_MIN or size > self.frame_bytes_max:
                    self.error = MalformedRequest(
                        f"frame size {size} outside {FRAME_BYTES_MIN}..{self.frame_bytes_max}"
                    )
                    if not out:
                        raise self.error
                    break
                self._need = size
                pos += 4
            if len(buf) - pos < self._need:
                if self._need - (len(buf) - pos) > Pieces.FROM_BYTES:
                    self._pieces = Pieces(self._need, bytes(buf[pos:]))
                    pos = len(buf)
                break
            with memoryview(buf) as view:
                out.append(bytes(view[pos:pos + self._need]))
            pos += self._need
            self._need = None
        if pos:
            del buf[:pos]
        return out
