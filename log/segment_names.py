"""How a segment's files are named: `<base offset, 20 digits>.log` and its
`.index` and `.timeindex` beside it (Kafka's layout).

Why a module of its own: the segment (log/segment.py), its index files
(log/segment_indexes.py), recovery and retention all agree on these names;
here they are shared without importing the Segment class, so the segment's
helper modules import no cycle.
"""

from __future__ import annotations

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
OFFSET_DIGITS = 20


def segment_name(base_offset: int) -> str:
    return f"{base_offset:0{OFFSET_DIGITS}d}"


def parse_segment_name(name: str) -> int | None:
    """Base offset of a `.log` file name, or None if not a segment name."""
    stem, dot, suffix = name.partition(".")
    if dot and "." + suffix == LOG_SUFFIX and len(stem) == OFFSET_DIGITS and stem.isdigit():
        return int(stem)
    return None
