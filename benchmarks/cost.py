"""What a run costs in Lambda at list prices, from a measured duration and configured memory."""

from __future__ import annotations

import math
from dataclasses import dataclass

PRICES = {
    "arm64": 0.0000133334,  # USD per GB-second, first 7.5 billion GB-s a month
    "x86_64": 0.0000166667,  # USD per GB-second, first 6 billion GB-s a month
}
"""Lambda's on-demand duration price, US East (N. Virginia)."""
PER_REQUEST = 0.20 / 1_000_000
"""USD per request, either architecture."""
PRICES_SOURCE = "https://aws.amazon.com/lambda/pricing/, US East (N. Virginia), read 2026-12-01"
RUNS_PER_MONTH = 30


@dataclass(frozen=True)
class Cost:
    gb_seconds: float
    per_run: float

    @property
    def per_month(self) -> float:
        return self.per_run * RUNS_PER_MONTH


def billed(seconds: float, memory_mb: int, architecture: str, invocations: int = 1) -> Cost:
    """Lambda rounds each invocation's duration up to the millisecond; memory counts in GB of
    1,024 MB. Free tier left out (it is per account, shared with everything else there)."""
    gb_seconds = memory_mb / 1024 * math.ceil(seconds * 1000) / 1000
    return Cost(gb_seconds, gb_seconds * PRICES[architecture] + invocations * PER_REQUEST)
