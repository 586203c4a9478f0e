"""FrameStream: a trio byte stream read as frames, with read deadlines.

Why: both ends read frames the same way; the server also needs two read
deadlines against slow or stuck peers:

- ``idle_timeout_s``: no frame has started for this long;
- ``partial_timeout_s``: a frame started (header or payload bytes arrived)
  and has not completed for this long, measured from when it started (so a
  sender trickling one byte a second cannot keep a connection forever).

Only the caller's task reads; this is a thin adapter over ``FrameDecoder``.
"""

from __future__ import annotations

import math
from collections import deque

import trio

from rafka.netproto.errors import ErrorCode, RafkaError
from rafka.netproto.framing import FrameDecoder, Pieces


async def receive_into(stream: trio.abc.ReceiveStream, pieces: Pieces) -> int:
    """Read the rest of a large frame straight into its buffer; the bytes
    read (0 at the end of the stream). On a socket one read takes whatever
    the kernel holds, up to the whole frame, with no allocation; errors are
    the stream's (trio.BrokenResourceError)."""
    sock = getattr(stream, "socket", None)
    with pieces.window() as window:
        if sock is None:  # another kind of stream (tests): its own reads
            data = await stream.receive_some(len(window))
            window[: len(data)] = data
            return len(data)
        try:
            return await sock.recv_into(window)
        except OSError as exc:
            raise trio.BrokenResourceError(f"socket connection broken: {exc}") from exc


class ReadTimeout(RafkaError):
    """A read deadline passed (``which`` is "idle" or "partial_frame")."""

    def __init__(self, which: str) -> None:
        super().__init__(ErrorCode.REQUEST_TIMED_OUT, f"{which} read deadline passed")
        self.which = which


class FrameStream:
    __slots__ = ("stream", "decoder", "read_chunk_bytes", "_frames", "_partial_since")

    def __init__(self, stream: trio.abc.ReceiveStream, frame_bytes_max: int, read_chunk_bytes: int) -> None:
        self.stream = stream
        self.decoder = FrameDecoder(frame_bytes_max)
        self.read_chunk_bytes = read_chunk_bytes
        self._frames: deque[bytes] = deque()
        self._partial_since: float | None = None

    async def receive_frame(
        self, *, idle_timeout_s: float = math.inf, partial_timeout_s: float = math.inf
    ) -> bytes | None:
        """The next frame's payload, or None at a clean end of stream.

        Raises FrameError (oversized or truncated frame), ReadTimeout, and the
        stream's own errors (trio.BrokenResourceError, OSError, ...)."""
        if self._frames:
            return self._frames.popleft()
        idle_since = trio.current_time()
        while True:
            partial = self.decoder.has_partial
            if partial:
                if self._partial_since is None:
                    self._partial_since = trio.current_time()
                deadline = self._partial_since + partial_timeout_s
            else:
                deadline = idle_since + idle_timeout_s
            pieces = self.decoder.pieces
            with trio.move_on_at(deadline) as scope:
                if pieces is not None:
                    n = await receive_into(self.stream, pieces)
                else:
                    data = await self.stream.receive_some(self.read_chunk_bytes)
            if scope.cancelled_caught:
                raise ReadTimeout("partial_frame" if partial else "idle")
            if pieces is not None:
                if not n:
                    self.decoder.eof()
                    return None
                frames = self.decoder.pieces_filled(n)
            elif not data:
                self.decoder.eof()
                return None
            else:
                frames = self.decoder.feed(data)
            if frames:
                # A new frame may have started in this same chunk.
                self._partial_since = trio.current_time() if self.decoder.has_partial else None
                self._frames.extend(frames)
                return self._frames.popleft()
