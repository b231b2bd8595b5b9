"""The seeded interleaving scheduler: concurrent units, one at a time, switching at checkpoints."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from emulator.interleave import Interleaver, checkpoint


@pytest.fixture
def installed() -> Iterator[Callable[[int], Interleaver]]:
    made: list[Interleaver] = []

    def make(seed: int) -> Interleaver:
        scheduler = Interleaver(seed)
        scheduler.install()
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.uninstall()


def _steps(log: list[str], name: str, count: int = 3) -> Callable[[], str]:
    def run() -> str:
        for step in range(count):
            log.append(f"{name}{step}")
            checkpoint()
        return name

    return run


def _order(scheduler: Interleaver, units: int = 3, limit: int = 0) -> list[str]:
    log: list[str] = []
    results = scheduler.run_concurrently(
        [_steps(log, chr(ord("a") + i)) for i in range(units)], limit=limit
    )
    assert results == [chr(ord("a") + i) for i in range(units)]  # by index, whatever the order
    return log


def test_the_same_seed_gives_the_same_interleaving(
    installed: Callable[[int], Interleaver],
) -> None:
    first = installed(7)
    order = _order(first)
    trace = list(first.trace)
    first.reseed(7)
    assert _order(first) == order
    assert first.trace == trace


def test_seeds_explore_different_interleavings(installed: Callable[[int], Interleaver]) -> None:
    scheduler = installed(0)
    orders = set()
    for seed in range(20):
        scheduler.reseed(seed)
        orders.add(tuple(_order(scheduler)))
    sequential = ("a0", "a1", "a2", "b0", "b1", "b2", "c0", "c1", "c2")
    assert len(orders) > 5
    assert any(order != sequential for order in orders)


def test_units_really_interleave_between_checkpoints(
    installed: Callable[[int], Interleaver],
) -> None:
    """Some seed lets a unit start before another has finished: a race can happen."""
    scheduler = installed(0)
    for seed in range(20):
        scheduler.reseed(seed)
        order = _order(scheduler, units=2)
        if order.index("b0") < order.index("a2") or order.index("a0") < order.index("b2"):
            assert scheduler.switches > 2
            return
    pytest.fail("no seed interleaved two units")


def test_limit_bounds_how_many_units_run_at_once(
    installed: Callable[[int], Interleaver],
) -> None:
    scheduler = installed(3)
    running: list[int] = [0]
    peak: list[int] = [0]

    def unit() -> None:
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        for _ in range(4):
            checkpoint()
        running[0] -= 1

    for seed in range(10):
        scheduler.reseed(seed)
        scheduler.run_concurrently([unit] * 8, limit=2)
    assert peak[0] == 2


def test_on_done_false_starts_no_further_unit(installed: Callable[[int], Interleaver]) -> None:
    scheduler = installed(1)
    started: list[int] = []

    def unit(index: int) -> Callable[[], int]:
        def run() -> int:
            started.append(index)
            checkpoint()
            return index

        return run

    results = scheduler.run_concurrently(
        [unit(i) for i in range(6)], limit=1, on_done=lambda index, result: index < 2
    )
    assert started == [0, 1, 2]
    assert results == [0, 1, 2]


def test_the_first_failure_is_raised_after_every_unit_finished(
    installed: Callable[[int], Interleaver],
) -> None:
    scheduler = installed(2)
    finished: list[str] = []

    def ok() -> None:
        checkpoint()
        finished.append("ok")

    def boom() -> None:
        checkpoint()
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        scheduler.run_concurrently([boom, ok, ok])
    assert finished == ["ok", "ok"]


def test_each_unit_keeps_its_own_environment(installed: Callable[[int], Interleaver]) -> None:
    """Lambda invocations set os.environ process-wide; interleaved ones must not mix."""
    scheduler = installed(5)
    seen: dict[str, list[str | None]] = {"a": [], "b": []}

    def unit(name: str) -> Callable[[], None]:
        def run() -> None:
            os.environ["INTERLEAVE_TEST_FUNCTION"] = name
            for _ in range(5):
                checkpoint()
                seen[name].append(os.environ.get("INTERLEAVE_TEST_FUNCTION"))

        return run

    try:
        for seed in range(5):
            scheduler.reseed(seed)
            scheduler.run_concurrently([unit("a"), unit("b")])
    finally:
        os.environ.pop("INTERLEAVE_TEST_FUNCTION", None)
    assert set(seen["a"]) == {"a"}
    assert set(seen["b"]) == {"b"}
    assert "INTERLEAVE_TEST_FUNCTION" not in os.environ  # the caller's state is back


def test_only_one_unit_runs_at_a_time(installed: Callable[[int], Interleaver]) -> None:
    scheduler = installed(4)
    inside = threading.Lock()
    overlaps: list[int] = []

    def unit() -> None:
        for _ in range(5):
            if not inside.acquire(blocking=False):
                overlaps.append(1)
                return
            time.sleep(0.001)  # a free-running thread would get in here
            inside.release()
            checkpoint()

    scheduler.run_concurrently([unit] * 6)
    assert overlaps == []


def test_without_an_installed_scheduler_checkpoint_does_nothing() -> None:
    checkpoint()  # no interleaver installed: returns at once
