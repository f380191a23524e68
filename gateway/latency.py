"""Push latencies in compact logarithmic buckets: small to store, good enough for a p99.

Bucket i holds latencies up to 1 ms * 2^(i/4), so a quantile read from buckets is at most
19 % above the true value; bucket 0 holds everything up to 1 ms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

BUCKETS = 72  # up to 1 ms * 2^18 ≈ 262 s, far past any push timeout
_BASE = 0.001


def bucket_of(seconds: float) -> int:
    if seconds <= _BASE:
        return 0
    return min(BUCKETS - 1, math.ceil(4 * math.log2(seconds / _BASE)))


def upper_bound(bucket: int) -> float:
    return float(_BASE * 2 ** (bucket / 4))


def quantile(counts: Mapping[int, int], q: float) -> float:
    """The `q` quantile (0..1) of the latencies counted per bucket; 0 when there are none."""
    total = sum(counts.values())
    if total == 0:
        return 0.0
    rank = math.ceil(q * total)
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return upper_bound(bucket)
    return upper_bound(max(counts))


def duration_text(seconds: float) -> str:
    """A protobuf Duration in JSON, as DT writes latency99p: "0.411s"."""
    return f"{seconds:.3f}s"
