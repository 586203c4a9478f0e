"""Where a new follower truncates its log (KIP-101/279), pure.

The follower asks the leader OffsetForLeaderEpoch(E_f), E_f being its own
latest epoch; the leader answers (E_l, end): the largest epoch it knows
<= E_f and where that epoch ends in its log. The follower keeps only what
both logs surely agree on:
- E_l == E_f: truncate to min(end, own log end);
- E_l < E_f: truncate to min(end, own end offset of E_l);
- the leader knows no such epoch (-1): truncate to the follower's high
  watermark (Kafka's fallback: nothing above it is known to be committed).
"""

from __future__ import annotations

UNDEFINED = -1


def truncation_offset(asked_epoch: int, answer_epoch: int, answer_end: int, *, log_end_offset: int,
                      high_watermark: int, own_end_for) -> int:
    """`own_end_for(epoch) -> (epoch, end_offset)`: the follower's epoch cache."""
    if answer_epoch == UNDEFINED or answer_end == UNDEFINED:
        return min(high_watermark, log_end_offset)
    if answer_epoch == asked_epoch:
        return min(answer_end, log_end_offset)
    _, own_end = own_end_for(answer_epoch)
    if own_end == UNDEFINED:
        return min(high_watermark, log_end_offset)
    return min(answer_end, own_end, log_end_offset)
