"""Pure helpers for Map states: batching, failure tolerance, and virtual concurrency.

Iterations and child executions run one after another, in item order, so runs are
deterministic; `VirtualScheduler` then works out how long they would have taken with
MaxConcurrency slots running in parallel (list scheduling in item order), which is what
advances the parent's virtual clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from emulator.states.limits import json_size
from orderflow.aws_facts import STEP_FUNCTIONS_DISTRIBUTED_MAP_MAX_CONCURRENCY

# What MaxConcurrency 0 (the default) means.
DISTRIBUTED_DEFAULT_CONCURRENCY: Final = STEP_FUNCTIONS_DISTRIBUTED_MAP_MAX_CONCURRENCY.value


def make_batches(
    items: Sequence[Any], *, max_items: int | None, max_bytes: int | None
) -> list[list[Any]]:
    """Greedy batches in item order.

    A batch takes the next item while it holds fewer than `max_items` items and the JSON
    of its Items array (compact, UTF-8) stays within `max_bytes`. An item too big to fit
    even alone goes in a batch of its own (its child then meets the 256 KiB input check).
    """
    batches: list[list[Any]] = []
    current: list[Any] = []
    current_bytes = 2  # "[]"
    for item in items:
        size = json_size(item)
        grown = current_bytes + size + (1 if current else 0)
        full = max_items is not None and len(current) >= max_items
        too_big = max_bytes is not None and grown > max_bytes
        if current and (full or too_big):
            batches.append(current)
            current, grown = [], 2 + size
        current.append(item)
        current_bytes = grown
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class FailureTolerance:
    """ToleratedFailureCount / ToleratedFailurePercentage over *items* (batches count all).

    With neither set nothing is tolerated. The threshold is exceeded when failed items
    are more than the count, or more than the percentage of all items.
    """

    total_items: int
    count: int | None = None
    percentage: float | None = None

    def exceeded(self, failed_items: int) -> bool:
        if failed_items == 0:
            return False
        if self.count is None and self.percentage is None:
            return True
        over_count = self.count is not None and failed_items > self.count
        share = 100.0 * failed_items / max(self.total_items, 1)
        over_share = self.percentage is not None and share > self.percentage
        return over_count or over_share


@dataclass
class VirtualScheduler:
    """Start times for work run in order on `slots` parallel slots (0 = unlimited)."""

    start: float
    slots: int
    _free: list[float] = field(default_factory=list)
    end: float = 0.0

    def __post_init__(self) -> None:
        self.end = self.start

    def next_start(self) -> float:
        if self.slots <= 0 or len(self._free) < self.slots:
            return self.start
        return heapq.heappop(self._free)

    def finish(self, finished_at: float) -> None:
        heapq.heappush(self._free, finished_at)
        self.end = max(self.end, finished_at)
