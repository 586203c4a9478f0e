"""Record-batch compression codecs.

Why only gzip: it is in the standard library, and the broker never needs to
decompress on its append path (it stores client batches as they are). Batches
compressed with snappy, lz4 or zstd are still stored and served (the header
path does not care); only decoding their records raises UnsupportedCodecError
naming the codec.

Invariant: decompression never produces more than `decompressed_bytes_max`
bytes, so a small malicious batch cannot blow up memory (a gzip bomb).
"""

from __future__ import annotations

import gzip
import zlib

from rafka.log.errors import CorruptBatchError, UnsupportedCodecError

CODEC_NONE = 0
CODEC_GZIP = 1
CODEC_SNAPPY = 2
CODEC_LZ4 = 3
CODEC_ZSTD = 4

CODEC_NAMES = {
    CODEC_NONE: "none",
    CODEC_GZIP: "gzip",
    CODEC_SNAPPY: "snappy",
    CODEC_LZ4: "lz4",
    CODEC_ZSTD: "zstd",
}

# Default bound on the records of one batch after decompression.
DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024

GZIP_LEVEL = 6  # zlib's default: Kafka's producers use the library default too
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def codec_name(codec: int) -> str:
    return CODEC_NAMES.get(codec, f"unknown codec {codec}")


def compress(codec: int, data) -> bytes:
    """Compress a batch's record bytes with `codec` (none or gzip).

    The gzip header carries mtime 0, so the same records always build the
    same bytes (and the same CRC).
    """
    if codec == CODEC_NONE:
        return bytes(data)
    if codec == CODEC_GZIP:
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    raise UnsupportedCodecError(f"cannot compress with codec {codec_name(codec)}")


def decompress(codec: int, data, *, decompressed_bytes_max: int = DECOMPRESSED_BYTES_MAX) -> bytes:
    """Decompress a batch's record bytes; raises UnsupportedCodecError for
    codecs other than none/gzip and CorruptBatchError for bad or oversized data."""
    if codec == CODEC_NONE:
        if len(data) > decompressed_bytes_max:
            raise CorruptBatchError(f"records exceed {decompressed_bytes_max} bytes")
        return bytes(data)
    if codec == CODEC_GZIP:
        return _gunzip(data, decompressed_bytes_max)
    raise UnsupportedCodecError(f"cannot decode records compressed with {codec_name(codec)}")


def _gunzip(data, decompressed_bytes_max: int) -> bytes:
    """Decode one or more concatenated gzip members, bounded in output size."""
    out = bytearray()
    remaining = bytes(data)
    if not remaining:
        raise CorruptBatchError("empty gzip stream")
    while remaining:
        decoder = zlib.decompressobj(wbits=_GZIP_WBITS)
        budget = decompressed_bytes_max - len(out)
        try:
            chunk = decoder.decompress(remaining, budget + 1)
        except zlib.error as exc:
            raise CorruptBatchError(f"bad gzip data: {exc}") from None
        out += chunk
        if len(out) > decompressed_bytes_max or decoder.unconsumed_tail:
            raise CorruptBatchError(f"gzip records exceed {decompressed_bytes_max} bytes")
        if not decoder.eof:
            raise CorruptBatchError("truncated gzip data")
        remaining = decoder.unused_data
    return bytes(out)
