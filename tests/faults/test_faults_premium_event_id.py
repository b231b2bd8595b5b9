"""PremiumOrderPipe: the guarantee that holds is at least once, with a stable event id.

Each effect runs under an idempotency record, but a processor that dies after PutEvents and
before that record is saved leaves only an INPROGRESS claim; once the claim expires, the
Pipe's redelivery publishes again, and EventBridge does not deduplicate (each put gets a new
envelope `id`). So a domain event can arrive twice, and every copy carries the same
`detail.eventId`, derived from the order and its transition, for consumers to deduplicate on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fault_support import deployed, output

from emulator.engine import Emulator
from emulator.faults import Faults
from emulator.iam.guard import acting_as
from emulator.iam.policies import Principal
from emulator.scenarios.premium import apply_writes
from emulator.services.pipes import PipeRunner, PipesService, stream_position, stream_records
from runtime.orders.domain import OrderChange, domain_event_id, idempotency_key

pytestmark = pytest.mark.e2e

TABLE = "aws:dynamodb/table:Table"
PROCESSOR = "premium-premium"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed("premium") as emulator:
        yield emulator


def premium_pipe(emulator: Emulator) -> PipeRunner:
    runners = PipesService.of(emulator).runners.values()
    return next(r for r in runners if f":function:{PROCESSOR}-" in r.config.target)


def ship(emulator: Emulator, order_id: str) -> list[dict[str, Any]]:
    """Write a premium order and ship it; the MODIFY record as the premium pipe sends it."""
    stream = premium_pipe(emulator).config.source
    first = stream_position(stream, "LATEST")
    apply_writes(
        emulator.client("dynamodb"),
        output(emulator, TABLE, "premium-orders", "name"),
        [
            {
                "put": {
                    "orderId": order_id,
                    "status": "pending",
                    "amount": 1500,
                    "customerEmail": "vip@example.com",
                }
            },
            {"update": {"key": {"orderId": order_id}, "set": {"status": "shipped"}}},
        ],
    )
    raw = stream_records(stream, first, stream_position(stream, "LATEST"))
    records = json.loads(json.dumps(raw, default=lambda moment: int(moment.timestamp())))
    for record in records:
        record["eventSourceARN"] = stream
    return [r for r in records if r["eventName"] == "MODIFY"]


def deliver(emulator: Emulator, batch: list[dict[str, Any]]) -> Any:
    """One delivery of `batch` by the premium pipe (as its role), as a redelivery would be."""
    pipe = premium_pipe(emulator)
    with acting_as(Principal.role(pipe.config.role_arn)):
        response = emulator.client("lambda").invoke(
            FunctionName=pipe.config.target, Payload=json.dumps(batch).encode()
        )
    return json.loads(response["Payload"].read())


def expire_claims(emulator: Emulator) -> None:
    """The crashed invocation's timeout passes: its INPROGRESS claims expire.

    Powertools stamps a claim's expiry from the wall clock, not the emulator's virtual one,
    so the test ages the claim instead of waiting.
    """
    dynamodb = emulator.client("dynamodb")
    table = output(emulator, TABLE, "premium-idempotency", "name")
    for item in dynamodb.scan(TableName=table)["Items"]:
        if item["status"]["S"] == "INPROGRESS":
            dynamodb.update_item(
                TableName=table,
                Key={"id": item["id"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": {"N": "0"}},
            )


def shipped(emulator: Emulator, order_id: str) -> list[dict[str, Any]]:
    return [
        event
        for event in emulator.events.emitted
        if event["detail-type"] == "PremiumOrderShipped"
        and event["detail"].get("orderId") == order_id
    ]


def test_a_crash_after_put_events_then_the_redelivery_repeats_the_same_event_id(
    emulator: Emulator,
) -> None:
    order_id = "crash-id-1"
    batch = ship(emulator, order_id)
    assert len(batch) == 1
    with Faults(emulator) as faults:
        crash = faults.crash_after(PROCESSOR, "events", "PutEvents")
        answer = deliver(emulator, batch)
    assert crash.fired == 1
    assert answer["errorType"] == "Runtime.ExitError"
    expire_claims(emulator)
    assert deliver(emulator, batch) == {"batchItemFailures": []}  # the Pipe's redelivery

    first, second = shipped(emulator, order_id)  # at least once: here, twice
    assert first["id"] != second["id"]  # EventBridge's envelope ids differ ...
    key = idempotency_key("PremiumOrderShipped", _change(order_id))
    assert first["detail"]["eventId"] == second["detail"]["eventId"] == domain_event_id(key)
    assert first["detail"] == second["detail"]  # ... the domain event is the same one

    # Settled: a further redelivery publishes nothing more.
    assert deliver(emulator, batch) == {"batchItemFailures": []}
    assert len(shipped(emulator, order_id)) == 2


def test_without_a_crash_a_redelivery_publishes_nothing_more(emulator: Emulator) -> None:
    order_id = "redelivered-1"
    batch = ship(emulator, order_id)
    deliver(emulator, batch)
    deliver(emulator, batch)
    (event,) = shipped(emulator, order_id)
    key = idempotency_key("PremiumOrderShipped", _change(order_id))
    assert event["detail"]["eventId"] == domain_event_id(key)


def _change(order_id: str) -> OrderChange:
    """The shipment as the rules see it (the key reads detail type, order and transition)."""
    return OrderChange(
        order_id=order_id,
        event_name="MODIFY",
        new_status="shipped",
        old_status="pending",
        amount=Decimal(1500),
        customer_email="vip@example.com",
        event_id="any",
        sequence_number=None,
        event_source_arn=None,
    )
