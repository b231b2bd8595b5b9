"""Retry back-off and Catch selection for Task, Parallel and Map states.

Per AWS: the *first* retrier whose ErrorEquals matches decides; each retrier counts its
own attempts (MaxAttempts, default 3, 0 = never); when that retrier is exhausted the
error goes to the catchers, never to a later retrier. The n-th retry (0-based) of a
retrier waits IntervalSeconds (default 1) x BackoffRate (default 2.0) ^ n, capped at
MaxDelaySeconds; JitterStrategy FULL then draws uniformly from [0, that delay).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.states.errors import error_matches


def backoff_seconds(retrier: Mapping[str, Any], attempt: int, rng: random.Random) -> float:
    """Delay before retry number `attempt` (0-based) of this retrier."""
    interval = float(retrier.get("IntervalSeconds", 1))
    rate = float(retrier.get("BackoffRate", 2.0))
    try:
        delay = interval * rate**attempt
    except OverflowError:
        delay = float("inf")
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, float(retrier["MaxDelaySeconds"]))
    if retrier.get("JitterStrategy", "NONE") == "FULL":
        delay = rng.uniform(0.0, delay)
    return delay


@dataclass
class RetryBudget:
    """Per-state-entry attempt counters, one per retrier."""

    retriers: Sequence[Mapping[str, Any]]
    used: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.used = [0] * len(self.retriers)

    def next_delay(self, error: str, rng: random.Random) -> float | None:
        """Seconds to wait before retrying `error`, or None when it must not be retried."""
        for position, retrier in enumerate(self.retriers):
            if error_matches(retrier["ErrorEquals"], error):
                if self.used[position] >= retrier.get("MaxAttempts", 3):
                    return None
                delay = backoff_seconds(retrier, self.used[position], rng)
                self.used[position] += 1
                return delay
        return None


def find_catcher(catchers: Sequence[Mapping[str, Any]], error: str) -> Mapping[str, Any] | None:
    """The first catcher covering `error`."""
    return next((c for c in catchers if error_matches(c["ErrorEquals"], error)), None)
