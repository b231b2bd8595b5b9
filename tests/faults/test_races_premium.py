"""PremiumOrderPipe with one transition delivered twice at once, and with a crash mid-effect.

Pipes deliver at least once: a batch can be delivered again while the first delivery is
still running (a timed-out invocation that is in fact still publishing). The two
deliveries then race to claim the transition's idempotency record. Under the seeded
scheduler the invocations interleave at every AWS call; whatever the interleaving, the
domain event and the SNS notification go out once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fault_support import output
from moto.sns.models import sns_backends
from race_support import interleaved, seeds, some_seed_interleaves

from emulator.engine import Emulator
from emulator.faults import Faults
from emulator.iam.guard import acting_as
from emulator.iam.policies import Principal
from emulator.program import ACCOUNT, REGION
from emulator.scenarios.premium import apply_writes
from emulator.services.pipes import PipeRunner, PipesService, stream_position, stream_records

pytestmark = pytest.mark.e2e

TABLE = "aws:dynamodb/table:Table"
TOPIC = "aws:sns/topic:Topic"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with interleaved("premium", 0) as emulator:
        yield emulator


def _premium_pipe(emulator: Emulator) -> PipeRunner:
    runners = PipesService.of(emulator).runners.values()
    return next(r for r in runners if ":function:premium-premium-" in r.config.target)


def _ship(emulator: Emulator, order_id: str) -> list[dict[str, Any]]:
    """Write a premium order and ship it; the MODIFY record as the premium pipe sends it."""
    pipe = _premium_pipe(emulator)
    stream = pipe.config.source
    first = stream_position(stream, "LATEST")
    table = output(emulator, TABLE, "premium-orders", "name")
    apply_writes(
        emulator.client("dynamodb"),
        table,
        [
            {
                "put": {
                    "orderId": order_id,
                    "status": "pending",
                    "amount": 1500,
                    "customerEmail": "vip@example.com",
                    "createdAt": "2024-05-01T12:00:00Z",
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


def _deliver(emulator: Emulator, batch: list[dict[str, Any]]) -> Any:
    """One delivery of `batch` by the premium pipe (as its role, synchronously)."""
    pipe = _premium_pipe(emulator)
    with acting_as(Principal.role(pipe.config.role_arn)):
        response = emulator.client("lambda").invoke(
            FunctionName=pipe.config.target, Payload=json.dumps(batch).encode()
        )
    return json.loads(response["Payload"].read())


def _shipped_events(emulator: Emulator, order_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in emulator.events.emitted
        if e["detail-type"] == "PremiumOrderShipped" and e["detail"].get("orderId") == order_id
    ]


def _notifications(emulator: Emulator, order_id: str) -> int:
    topic = output(emulator, TOPIC, "premium-notifications", "arn")
    sent = sns_backends[ACCOUNT][REGION].topics[topic].sent_notifications
    return sum(1 for notification in sent if order_id in json.dumps(notification, default=str))


def _deliver_twice_at_once(emulator: Emulator, seed: int) -> None:
    scheduler = emulator.interleaver
    assert scheduler is not None
    order_id = f"race-{seed}"
    batch = _ship(emulator, order_id)
    assert len(batch) == 1
    errors_before = len(emulator.errors)

    answers = scheduler.run_concurrently(
        [lambda: _deliver(emulator, batch), lambda: _deliver(emulator, batch)]
    )
    # Each delivery published, found it done, or (claim held by the other) asked for a retry.
    retried = [a for a in answers if a.get("batchItemFailures")]
    assert len(retried) <= 1, (seed, answers)
    emulator.run_until_idle()  # the pipes deliver the stream too: the retry AWS would make

    assert len(_shipped_events(emulator, order_id)) == 1, f"seed {seed}"
    assert _notifications(emulator, order_id) == 1, f"seed {seed}"
    assert [e for e in emulator.errors[errors_before:] if e["kind"] != "lambda"] == [], seed


@pytest.mark.parametrize("seed", seeds())
def test_two_concurrent_deliveries_claim_one_transition_once(emulator: Emulator, seed: int) -> None:
    assert emulator.interleaver is not None
    emulator.interleaver.reseed(seed)
    _deliver_twice_at_once(emulator, seed)


def test_the_deliveries_do_interleave(emulator: Emulator) -> None:
    some_seed_interleaves(emulator, lambda seed: _deliver_twice_at_once(emulator, seed))


def test_a_crash_after_put_events_leaves_the_event_published_and_the_claim_open(
    emulator: Emulator,
) -> None:
    """The crash lands between the two side effects: the event is out, the record is not."""
    assert emulator.interleaver is not None
    emulator.interleaver.reseed(0)
    order_id = "crash-1"
    batch = _ship(emulator, order_id)
    open_claims = _open_event_claims(emulator)
    with Faults(emulator) as faults:
        crash = faults.crash_after("premium-premium", "events", "PutEvents")
        answer = _deliver(emulator, batch)
    assert crash.fired == 1
    assert answer["errorType"] == "Runtime.ExitError"
    assert len(_shipped_events(emulator, order_id)) == 1  # PutEvents had succeeded
    assert _notifications(emulator, order_id) == 0  # nothing after the crash ran
    assert _open_event_claims(emulator) == open_claims + 1  # the record was never saved


def _open_event_claims(emulator: Emulator) -> int:
    """Event idempotency records still INPROGRESS (claimed, result never stored)."""
    items = emulator.client("dynamodb").scan(
        TableName=output(emulator, TABLE, "premium-idempotency", "name")
    )["Items"]
    return sum(
        1
        for item in items
        if item["id"]["S"].startswith("premium.event#") and item["status"]["S"] == "INPROGRESS"
    )
