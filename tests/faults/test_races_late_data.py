"""LateDataReconciler with concurrent workflow runs: two reconciliations of one day total.

EventBridge delivers events to the workflow concurrently, and redelivers some; the runs
then race on one `DAY#` aggregate and on the order's ledger entry. Under the seeded
scheduler their Lambda tasks interleave at every AWS call; whatever the interleaving,
the day holds each distinct order once and `OrderReconciled` goes out once per order.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fault_support import STATE_MACHINE, output, run_input, write
from race_support import interleaved, seeds, some_seed_interleaves

from emulator.engine import Emulator
from emulator.faults import Faults

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with interleaved("late-data", 0) as emulator:
        yield emulator


def late_event(order_id: str, amount: str, day: str) -> dict[str, Any]:
    """The event as the rule delivers it to the workflow (EventBridge's envelope)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "late.record",
        "source": "orders.data",
        "account": "123456789012",
        "time": f"{day}T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"orderId": order_id, "amount": json.loads(amount), "reason": "late"},
    }


def _day_item(emulator: Emulator, day: str) -> dict[str, Any]:
    table = output(emulator, "aws:dynamodb/table:Table", "late-data-ledger", "name")
    item = emulator.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": f"DAY#{day}"}})
    return dict(item.get("Item") or {})


def _reconciled(emulator: Emulator, orders: set[str]) -> Counter[str]:
    return Counter(
        str(event["detail"].get("orderId"))
        for event in emulator.events.emitted
        if event["detail-type"] == "OrderReconciled" and event["detail"].get("orderId") in orders
    )


def _reconcile_concurrently(emulator: Emulator, seed: int) -> None:
    """Two orders and a redelivery of one, on one day, started at once; check the day."""
    day = (date(2031, 1, 1) + timedelta(days=seed)).isoformat()
    first, second = f"race{seed}-a", f"race{seed}-b"
    events = [
        late_event(first, "100.25", day),
        late_event(second, "7.5", day),
        late_event(first, "100.25", day),  # the same late record, delivered again
    ]
    machine = output(emulator, STATE_MACHINE, "late-data-workflow", "arn")
    errors_before = len(emulator.errors)
    for event in events:  # all started before any runs: they run side by side
        emulator.client("stepfunctions").start_execution(
            stateMachineArn=machine, input=json.dumps(event)
        )
    emulator.run_until_idle()

    assert emulator.errors[errors_before:] == [], f"seed {seed}"
    item = _day_item(emulator, day)
    assert int(item["orderCount"]["N"]) == 2, (seed, item)
    assert Decimal(item["amount"]["N"]) == Decimal("107.75"), (seed, item)
    assert _reconciled(emulator, {first, second}) == {first: 1, second: 1}, f"seed {seed}"


@pytest.mark.parametrize("seed", seeds())
def test_concurrent_reconciliations_of_one_day_add_up(emulator: Emulator, seed: int) -> None:
    assert emulator.interleaver is not None
    emulator.interleaver.reseed(seed)
    _reconcile_concurrently(emulator, seed)


def test_the_reconciliations_do_interleave(emulator: Emulator) -> None:
    some_seed_interleaves(emulator, lambda seed: _reconcile_concurrently(emulator, seed))


def test_a_crash_after_the_ledger_write_publishes_once_via_the_sweep(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Crash between the reconcile transaction and PutEvents: the outbox entry stays
    pending, the day counts the order once, and the sweep publishes it exactly once."""
    assert emulator.interleaver is not None
    emulator.interleaver.reseed(0)
    day = "2032-03-01"
    order = "crash-ledger-1"
    machine = output(emulator, STATE_MACHINE, "late-data-workflow", "arn")
    with Faults(emulator) as faults:
        crash = faults.crash_after("late-data-reconcile", "dynamodb", "TransactWriteItems")
        emulator.client("stepfunctions").start_execution(
            stateMachineArn=machine, input=json.dumps(late_event(order, "12.5", day))
        )
        emulator.run_until_idle()
    assert crash.fired == 1
    assert int(_day_item(emulator, day)["orderCount"]["N"]) == 1  # the write stayed
    assert _reconciled(emulator, {order}) == {}  # nothing after the crash ran

    run_input(emulator, "late-data", write(tmp_path, "tick.json", [{"tick": "schedule"}]))

    assert _reconciled(emulator, {order}) == {order: 1}
    item = _day_item(emulator, day)
    assert (int(item["orderCount"]["N"]), Decimal(item["amount"]["N"])) == (1, Decimal("12.5"))
