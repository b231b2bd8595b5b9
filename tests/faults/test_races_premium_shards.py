"""PremiumOrderPipe reading a stream of several shards, interleaved.

On AWS a DynamoDB stream has several shards: an item's records stay in one shard, in
order; a pipe keeps one batch in flight per shard, so batches of different items run side
by side. The interleaving emulator deals moto's single shard into virtual shards by the
item's key. Here: each item's records still arrive in order (many seeds), batches of two
shards of one pipe really overlap (some seed), every record is still accounted for, and a
failing shard is retried and dead-lettered alone, its letter naming that shard.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fault_support import Run, run_input, write
from race_support import interleaved, seeds

from emulator.engine import STREAM_SHARDS_INTERLEAVED, Emulator
from emulator.services.pipes import PipeRunner, PipesService, StreamItem, _Result

pytestmark = pytest.mark.e2e

ORDERS = 7


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with interleaved("premium", 0) as emulator:
        yield emulator


@dataclass(frozen=True)
class Call:
    """One target invocation by a pipe: `start` before it, `end` after it."""

    kind: str
    pipe: str
    shard: str
    sequences: tuple[int, ...]
    order_ids: tuple[str, ...]
    at: float


def _order_id(item: StreamItem) -> str:
    return str(item.record["dynamodb"]["Keys"]["orderId"]["S"])


def _runner(emulator: Emulator, role: str) -> PipeRunner:
    runners = PipesService.of(emulator).runners.values()
    return next(r for r in runners if f":function:premium-{role}-" in r.config.target)


def _spy(
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    fail: Callable[[str, Sequence[StreamItem]], bool] = lambda role, items: False,
) -> list[Call]:
    """Log every invocation of both pipes; `fail(pipe, batch)` fails it as a function error."""
    log: list[Call] = []
    for role in ("standard", "premium"):
        runner = _runner(emulator, role)
        original = runner._invoke

        def invoke(
            items: Sequence[StreamItem],
            runner: PipeRunner = runner,
            original: Callable[[Sequence[StreamItem]], _Result] = original,
            role: str = role,
        ) -> _Result:
            def note(kind: str) -> None:
                log.append(
                    Call(
                        kind,
                        role,
                        runner.shard_id_of(items[0].sequence),
                        tuple(item.sequence for item in items),
                        tuple(_order_id(item) for item in items),
                        emulator.clock.now(),
                    )
                )

            note("start")
            result = _Result(0, reason="injected function error") if fail(role, items) else None
            result = result or original(items)
            note("end")
            return result

        monkeypatch.setattr(runner, "_invoke", invoke)
    return log


def _writes(prefix: str) -> list[dict[str, Any]]:
    """Per order: created pending, shipped, then re-priced; orders written round-robin, so
    the records of different items alternate in the stream."""
    ids = [f"{prefix}-{n}" for n in range(ORDERS)]
    puts = [
        {
            "put": {
                "orderId": order_id,
                "status": "pending",
                "amount": 1500,
                "customerEmail": "vip@example.com",
                "createdAt": "2024-05-01T12:00:00Z",
            }
        }
        for order_id in ids
    ]
    ships = [{"update": {"key": {"orderId": i}, "set": {"status": "shipped"}}} for i in ids]
    reprices = [{"update": {"key": {"orderId": i}, "set": {"amount": 1600}}} for i in ids]
    return [*puts, *ships, *reprices]


def _run(emulator: Emulator, tmp_path: Path, prefix: str) -> Run:
    return run_input(emulator, "premium", write(tmp_path, f"{prefix}.json", _writes(prefix)))


def _first_deliveries(log: Sequence[Call], pipe: str) -> dict[str, list[tuple[int, str]]]:
    """Per order, (sequence number, shard) of each record's first delivery, in delivery order."""
    seen: set[int] = set()
    per_item: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for call in log:
        if call.kind != "start" or call.pipe != pipe:
            continue
        for sequence, order_id in zip(call.sequences, call.order_ids, strict=True):
            if sequence not in seen:
                seen.add(sequence)
                per_item[order_id].append((sequence, call.shard))
    return per_item


def test_the_interleaving_emulator_gives_the_stream_several_shards(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emulator.stream_shards == STREAM_SHARDS_INTERLEAVED > 1
    log = _spy(emulator, monkeypatch)
    run = _run(emulator, tmp_path, "many")
    assert run.outcome.problems == []
    assert len(_runner(emulator, "standard").shards) == STREAM_SHARDS_INTERLEAVED
    assert len({call.shard for call in log if call.pipe == "standard"}) > 1


@pytest.mark.parametrize("seed", seeds())
def test_each_items_records_arrive_in_order_and_all_are_accounted_for(
    emulator: Emulator, seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emulator.interleaver is not None
    emulator.interleaver.reseed(seed)
    log = _spy(emulator, monkeypatch)
    run = _run(emulator, tmp_path, f"order-{seed}")

    assert run.outcome.problems == [], seed  # every record ended somewhere, once
    for pipe in ("standard", "premium"):
        for order_id, delivered in _first_deliveries(log, pipe).items():
            sequences = [sequence for sequence, _ in delivered]
            assert sequences == sorted(sequences), (seed, pipe, order_id, delivered)
            assert len({shard for _, shard in delivered}) == 1, (seed, pipe, order_id)
    # The standard pipe forwards all three records of every order, shipped and re-priced.
    standard = _first_deliveries(log, "standard")
    assert {order_id: len(d) for order_id, d in standard.items()} == {
        f"order-{seed}-{n}": 3 for n in range(ORDERS)
    }


def _shards_overlap(log: Sequence[Call]) -> bool:
    """A batch of one shard started while a batch of another shard of that pipe ran."""
    running: dict[str, set[str]] = defaultdict(set)
    for call in log:
        if call.kind == "start":
            if running[call.pipe] - {call.shard}:
                return True
            running[call.pipe].add(call.shard)
        else:
            running[call.pipe].discard(call.shard)
    return False


def test_batches_of_different_shards_interleave(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler = emulator.interleaver
    assert scheduler is not None
    log = _spy(emulator, monkeypatch)
    for seed in range(1000, 1020):
        scheduler.reseed(seed)
        log.clear()
        assert _run(emulator, tmp_path, f"mix-{seed}").outcome.problems == []
        if _shards_overlap(log):
            assert scheduler.preemptions > 0
            return
    pytest.fail("no seed ran batches of two shards of one pipe side by side")


def test_a_failing_shard_is_retried_and_dead_lettered_alone(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch holding fail-0 fails every time: its shard is retried (with backoff) and
    given up on, one letter naming that shard and its range; other shards go on meanwhile."""
    assert emulator.interleaver is not None
    emulator.interleaver.reseed(0)
    runner = _runner(emulator, "standard")
    config = runner.config
    monkeypatch.setattr(runner, "config", replace(config, bisect=False, maximum_retry_attempts=2))
    log = _spy(
        emulator,
        monkeypatch,
        fail=lambda role, items: role == "standard" and "fail-0" in map(_order_id, items),
    )
    run = _run(emulator, tmp_path, "fail")

    failed = [c for c in log if c.pipe == "standard" and "fail-0" in c.order_ids]
    assert len(failed) == 2 * 3  # start and end of the first attempt and 2 retries
    shard, sequences = failed[0].shard, failed[0].sequences
    (letter,) = run.report["queues"]["premium-standard-pipe-dlq"]
    info = letter["DDBStreamBatchInfo"]
    assert info["shardId"] == shard
    assert (int(info["startSequenceNumber"]), int(info["endSequenceNumber"])) == (
        min(sequences),
        max(sequences),
    )
    assert info["batchSize"] == len(sequences)
    others = [c for c in log if c.pipe == "standard" and c.shard != shard]
    # Other shards' records lie inside the letter's range, yet are not counted given up.
    assert any(min(sequences) < s < max(sequences) for c in others for s in c.sequences)
    assert run.outcome.problems == []
    assert run.outcome.reasons == {"standard pipe: RetryAttemptsExhausted": len(sequences)}
    # The failing shard blocked only itself: every other shard was done before it gave up.
    assert max(c.at for c in others) < failed[-1].at
