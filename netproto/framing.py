"""Length-prefixed frames: a 4-byte big-endian payload size, then the payload.

Why: TCP is a byte stream; frames give message boundaries. The size prefix is
checked against ``max_frame_bytes`` *before* any payload is buffered, so a
peer can never make us allocate more than one bounded frame.

``FrameDecoder`` is a pure incremental state machine (no I/O): feed it bytes
as they arrive in any split, it returns every complete payload in order.

Invariants of ``FrameDecoder``:
- between feeds, the buffered (not yet returned) bytes are fewer than
  ``FRAME_HEADER_BYTES + max_frame_bytes``;
- once it raised ``FrameError`` it is poisoned and raises again on any feed
  (the stream has lost its framing and must be closed).
"""

from __future__ import annotations

import struct

from rafka.netproto.errors import ErrorCode, RafkaError

FRAME_HEADER_BYTES = 4
FRAME_BYTES_MAX_DEFAULT = 16 * 1024 * 1024
_SIZE = struct.Struct(">I")


class FrameError(RafkaError):
    """The byte stream is not valid framing (oversized or truncated frame).

    ``code`` is MESSAGE_TOO_LARGE for an oversized frame and CORRUPT_MESSAGE
    for a truncated one; either way the connection must be closed."""


def encode_frame(payload: bytes, max_frame_bytes: int = FRAME_BYTES_MAX_DEFAULT) -> bytes:
    """Prefix ``payload`` with its size. Raises FrameError(MESSAGE_TOO_LARGE)
    if the payload is larger than ``max_frame_bytes`` (the receiver would
    refuse it anyway, so fail at the sender where the bug is)."""
    size = len(payload)
    if size > max_frame_bytes:
        raise FrameError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"frame of {size} bytes exceeds max_frame_bytes={max_frame_bytes}",
        )
    return _SIZE.pack(size) + payload


class Pieces:
    """The payload of one large frame arriving over many reads, written into
    one buffer of its size as it comes (read straight into it with
    `window`/`advance`, or copied in with `add`) and handed out once whole.
    Growing and re-slicing one buffer instead costs three copies of every
    byte, and a reader that takes 64 KiB at a time needs 32 scheduler turns
    for a 2 MiB fetch response. Used by FrameDecoder and by the Kafka
    listener's frame cutter."""

    __slots__ = ("buf", "have")

    # A frame still missing more than this after a read is collected as pieces.
    FROM_BYTES = 64 * 1024

    def __init__(self, size: int, first: bytes) -> None:
        assert len(first) < size
        self.buf = bytearray(size)
        self.buf[: len(first)] = first
        self.have = len(first)

    @property
    def missing(self) -> int:
        return len(self.buf) - self.have

    def window(self) -> memoryview:
        """The unfilled part of the payload, to read into (then `advance`)."""
        return memoryview(self.buf)[self.have :]

    def advance(self, n: int) -> bytearray | None:
        """`n` more bytes were written through `window`; the payload once
        whole (the buffer itself: no copy; the reader keeps no reference)."""
        assert 0 <= n <= self.missing
        self.have += n
        return self.buf if self.have == len(self.buf) else None

    def add(self, data: bytes) -> tuple[bytearray | None, bytes]:
        """Copy `data` in: (the whole payload once `data` completes it, else
        None; the bytes of `data` past the payload)."""
        take = min(len(data), self.missing)
        self.buf[self.have : self.have + take] = data[:take]
        return self.advance(take), data[take:]


class PiecesReading:
    """What a frame cutter that collects large frames as `Pieces` offers
    its reader (FrameDecoder here, the Kafka listener's FrameBuffer): the
    frame being collected, and completing it from a read into its window.
    The cutter keeps `_pieces` and `_need`; `_NO_FRAME` is its `_need` when
    no frame is being read and `_deliver` turns a payload into its frame."""

    __slots__ = ()
    _NO_FRAME: int | None = -1

    @property
    def pieces(self) -> Pieces | None:
        """The large frame being collected, if any: read into its `window`,
        then call `pieces_filled`."""
        return self._pieces

    def pieces_filled(self, n: int) -> list:
        """`n` bytes were read into `pieces.window()`: the frame once whole."""
        payload = self._pieces.advance(n)
        if payload is None:
            return []
        self._pieces = None
        self._need = self._NO_FRAME
        return [self._deliver(payload)]

    @staticmethod
    def _deliver(payload: bytearray):
        return payload


class FrameDecoder(PiecesReading):
    """Incremental decoder of length-prefixed frames (pure, no I/O); a large
    frame is collected as `Pieces`."""

    __slots__ = ("max_frame_bytes", "_buf", "_need", "_failed", "_pieces")

    PIECES_FROM_BYTES = Pieces.FROM_BYTES

    def __init__(self, max_frame_bytes: int = FRAME_BYTES_MAX_DEFAULT) -> None:
        if max_frame_bytes < 0:
            raise ValueError("max_frame_bytes must be >= 0")
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        # Size of the payload being read, or -1 while reading a header.
        self._need = -1
        self._failed: FrameError | None = None
        # The payload being read as pieces (None: it is in _buf).
        self._pieces: Pieces | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buf) + (self._pieces.have if self._pieces is not None else 0)

    @property
    def has_partial(self) -> bool:
        """True while part of a frame (header or payload) has arrived.

        A server uses this to apply its partial-frame deadline."""
        return bool(self._buf) or self._need >= 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the payloads of all frames now complete.

        Raises FrameError(MESSAGE_TOO_LARGE) as soon as a header announces a
        frame over ``max_frame_bytes``."""
        if self._failed is not None:
            raise self._failed
        frames: list[bytes] = []
        if self._pieces is not None:
            payload, data = self._pieces.add(data)
            if payload is None:
                return frames
            frames.append(payload)
            self._pieces = None
            self._need = -1
        buf = self._buf
        buf += data
        pos = 0
        end = len(buf)
        while True:
            if self._need < 0:
                if end - pos < FRAME_HEADER_BYTES:
                    break
                (size,) = _SIZE.unpack_from(buf, pos)
                if size > self.max_frame_bytes:
                    self._failed = FrameError(
                        ErrorCode.MESSAGE_TOO_LARGE,
                        f"frame of {size} bytes exceeds max_frame_bytes={self.max_frame_bytes}",
                    )
                    self._buf = bytearray()
                    raise self._failed
                pos += FRAME_HEADER_BYTES
                self._need = size
            if end - pos < self._need:
                if self._need - (end - pos) > self.PIECES_FROM_BYTES:
                    self._pieces = Pieces(self._need, bytes(buf[pos:end]))
                    pos = end
                break
            with memoryview(buf) as view:
                frames.append(bytes(view[pos : pos + self._need]))
            pos += self._need
            self._need = -1
        if pos:
            del buf[:pos]
        return frames

    def eof(self) -> None:
        """The stream ended. Raises FrameError(CORRUPT_MESSAGE) if it ended in
        the middle of a frame (a truncated frame)."""
        if self._failed is not None:
            raise self._failed
        if self.has_partial:
            missing = (self._need - self.buffered_bytes) if self._need >= 0 else (FRAME_HEADER_BYTES - len(self._buf))
            raise FrameError(
                ErrorCode.CORRUPT_MESSAGE,
                f"stream ended inside a frame ({missing} bytes missing)",
            )
