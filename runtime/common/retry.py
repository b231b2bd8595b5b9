"""Bounded exponential backoff with full jitter, shared by every batch writer.

AWS batch APIs (BatchWriteItem, SendMessageBatch) succeed partially: they return the
entries they did not take. Retrying those with full jitter spreads concurrent Map children
apart instead of letting them hammer a throttled table in lockstep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry; `sleep` and `rng` are injectable for tests."""

    max_attempts: int = 8
    base_delay: float = 0.05
    max_delay: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, retry: int) -> float:
        """Full jitter: uniform over [0, min(cap, base * 2**retry)] (AWS Architecture Blog)."""
        ceiling = min(self.max_delay, self.base_delay * (2**retry))
        return self.rng.uniform(0.0, ceiling)


def drain(
    send: Callable[[Sequence[T]], Sequence[T]],
    entries: Sequence[T],
    policy: RetryPolicy,
) -> list[T]:
    """Call `send` until it hands back no leftovers or attempts run out.

    `send` returns the entries it could not deliver (retryable ones only). The leftovers
    after the last attempt are returned so the caller decides how loudly to fail.
    """
    pending: list[T] = list(entries)
    for attempt in range(policy.max_attempts):
        if not pending:
            break
        if attempt:
            policy.sleep(policy.delay(attempt - 1))
        pending = list(send(pending))
    return pending
