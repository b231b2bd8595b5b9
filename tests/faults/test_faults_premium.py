"""PremiumOrderPipe under bad writes, redeliveries and injected faults; its letters redriven.

The scenario accounts for every stream record per pipe (filtered, published, duplicate,
skipped, dead-lettered, given up by the pipe) and reports anything unaccounted for in
`outcome.problems`; on top, every dead letter here must be well-formed and carry its
stream record verbatim, and no domain event may be published twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import conservation
import pytest
from fault_support import QUEUE, Run, clients, deployed, output, run_input, snapshot, write

from emulator.engine import Emulator
from emulator.faults import Faults
from emulator.report import Mark
from emulator.services.pipes import stream_position, stream_records
from orderflow_ops.clients import build_redrivers
from orderflow_ops.queue import DeadLetterQueue
from orderflow_ops.replay import list_letters, redrive
from runtime.orders.domain import DEAD_LETTER_REASONS

pytestmark = pytest.mark.e2e

DOMAIN_EVENTS = {"OrderAccepted", "PremiumOrderShipped"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed("premium") as emulator:
        yield emulator


def order(order_id: str, **fields: Any) -> dict[str, Any]:
    item = {
        "orderId": order_id,
        "status": "pending",
        "amount": 1500,
        "customerEmail": "vip@example.com",
        "createdAt": "2024-05-01T12:00:00Z",
    }
    item.update(fields)
    return {"put": item}


def ship(order_id: str) -> dict[str, Any]:
    return {"update": {"key": {"orderId": order_id}, "set": {"status": "shipped"}}}


def letters(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in report["queues"]["premium-dlq"] if isinstance(b, dict)]


def published(report: dict[str, Any]) -> Counter[tuple[str, str]]:
    """(detail-type, orderId) of the domain events on the bus during the run."""
    return Counter(
        (e["detail-type"], str(e["detail"].get("orderId")))
        for e in report["events"]
        if e["detail-type"] in DOMAIN_EVENTS
    )


def repeated(report: dict[str, Any]) -> list[str]:
    """Domain events published more than once (same type and detail)."""
    seen = Counter(
        json.dumps([e["detail-type"], e["detail"]], sort_keys=True)
        for e in report["events"]
        if e["detail-type"] in DOMAIN_EVENTS
    )
    return [event for event, count in seen.items() if count > 1]


def run_writes(
    emulator: Emulator,
    tmp_path: Path,
    name: str,
    writes: list[Any],
    faults: Callable[[Faults], object] | None = None,
) -> Run:
    with Faults(emulator) as armed:
        if faults is not None:
            faults(armed)
        run = run_input(emulator, "premium", write(tmp_path, name, writes))
    assert run.outcome.problems == []
    for letter in letters(run.report):
        assert conservation.letter_problems(letter, pipeline="premium") == []
        assert letter["reason"] in DEAD_LETTER_REASONS
        assert letter["record"]["eventID"] == letter["source"]["eventID"]
    assert repeated(run.report) == []
    return run


def test_bad_writes_are_filtered_skipped_or_dead_lettered(
    emulator: Emulator, tmp_path: Path
) -> None:
    writes = [
        order("P-ok"),
        ship("P-ok"),
        order("P-abc", amount="abc"),
        order("P-nan", amount="NaN"),
        order("P-neg", amount=-5),
        order("P-unknown", status="misplaced"),
        order("P-test", customerEmail="qa@Test.COM"),
        order("P-gone"),
        {"delete": {"key": {"orderId": "P-gone"}}},
        order("P-noamount", amount=None),
    ]
    run = run_writes(emulator, tmp_path, "bad-writes.json", writes)
    reasons = Counter(letter["reason"] for letter in letters(run.report))
    assert reasons["invalid_amount"] >= 2  # "abc" and "NaN" at least
    assert published(run.report)[("OrderAccepted", "P-ok")] == 2  # pending, then shipped
    assert published(run.report)[("PremiumOrderShipped", "P-ok")] == 1
    assert ("OrderAccepted", "P-test") not in published(run.report)
    assert ("OrderAccepted", "P-unknown") not in published(run.report)


@pytest.mark.parametrize(
    ("label", "arm"),
    [
        ("error", lambda f: f.lambda_errors("premium-standard", times=2)),
        ("timeout", lambda f: f.lambda_timeouts("premium-standard", times=1)),
        ("bus-down", lambda f: f.fail_calls("events", ["PutEvents"], times=2)),
        ("idempotency-throttled", lambda f: f.throttle_dynamodb(times=2, table="idempotency")),
    ],
)
def test_redeliveries_publish_each_event_once(
    emulator: Emulator, tmp_path: Path, label: str, arm: Callable[[Faults], object]
) -> None:
    writes = [order(f"R-{label}-{i}") for i in range(3)]
    run = run_writes(emulator, tmp_path, f"redelivered-{label}.json", writes, arm)
    assert sum(published(run.report).values()) == 3


def _bad_record_letter(emulator: Emulator, tmp_path: Path) -> dict[str, Any]:
    run = run_writes(emulator, tmp_path, "one-bad.json", [order("P-redrive", amount="abc")])
    (letter,) = [b for b in letters(run.report) if b["source"]["orderId"] == "P-redrive"]
    return letter


def test_a_redriven_letter_goes_to_the_pipes_that_would_deliver_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    letter = _bad_record_letter(emulator, tmp_path)
    queue = DeadLetterQueue(
        clients(emulator).sqs, output(emulator, QUEUE, "premium-dlq", "url"), wait_seconds=0
    )
    redrivers = build_redrivers(clients(emulator), pipeline="premium")
    (planned,) = redrive(queue, redrivers, ids=[letter["id"]], dry_run=True)
    assert planned.status == "dry-run"
    assert "premium-standard" in planned.plan.target  # the standard pipe's filter passes
    assert "premium-premium" not in planned.plan.target  # an INSERT is no premium transition
    (report,) = redrive(queue, redrivers, ids=[letter["id"]])
    assert (report.status, report.deleted) == ("redriven", 1)
    # Still bad data: dead-lettered again under the same id, one copy in the queue.
    again = [x for x in list_letters(queue) if x.id == letter["id"]]
    assert len(again) == 1


def test_a_redriven_valid_record_publishes_once(emulator: Emulator, tmp_path: Path) -> None:
    """A record dead-lettered by a since-fixed bug: redriving it (twice) publishes once."""
    run = run_writes(emulator, tmp_path, "fixed.json", [order("P-fixed")])
    assert published(run.report)[("OrderAccepted", "P-fixed")] == 1
    record = _stream_record(emulator, "P-fixed")
    letter_id = "f" * 64
    letter = {
        "id": letter_id,
        "pipeline": "premium",
        "reason": "invalid_amount",
        "message": "rejected by an old rule",
        "source": {"eventID": record["eventID"], "eventSourceARN": record["eventSourceARN"]},
        "record": record,
        "timestamp": "2024-05-01T12:00:00.000Z",
    }
    queue = DeadLetterQueue(
        clients(emulator).sqs, output(emulator, QUEUE, "premium-dlq", "url"), wait_seconds=0
    )
    mark = Mark.now(emulator)
    for _ in range(2):
        emulator.client("sqs").send_message(
            QueueUrl=queue.queue_url, MessageBody=json.dumps(letter)
        )
        (report,) = redrive(queue, build_redrivers(clients(emulator)), ids=[letter_id])
        assert report.status == "redriven"
    emulator.run_until_idle()
    events = [
        e for e in emulator.events.emitted[mark.events :] if e["detail-type"] in DOMAIN_EVENTS
    ]
    assert events == []  # already published: the idempotency record suppresses both
    left = snapshot(emulator, "premium")["queues"]["premium-dlq"]
    assert [b for b in left if isinstance(b, dict) and b.get("id") == letter_id] == []


def _stream_record(emulator: Emulator, order_id: str) -> dict[str, Any]:
    """The INSERT stream record of `order_id`, as the pipe delivered it (from the log)."""
    records = [
        r
        for r in _delivered(emulator)
        if r.get("eventName") == "INSERT" and r["dynamodb"]["Keys"]["orderId"]["S"] == order_id
    ]
    return records[-1]


def _delivered(emulator: Emulator) -> list[dict[str, Any]]:
    """Every record on the orders table's stream, shaped as Pipes deliver them."""
    stream = clients(emulator).pipes.list_pipes()["Pipes"][0]["Source"]
    records = stream_records(stream, stream_position(stream, "TRIM_HORIZON"), 10**30)
    return [
        {**json.loads(json.dumps(record, default=str)), "eventSourceARN": stream}
        for record in records
    ]
