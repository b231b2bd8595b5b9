"""process_standard / process_premium end to end against moto: bus, topic, DLQ, idempotency."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from orders_support import (
    IDEMPOTENCY_TABLE,
    REPO,
    SOURCE,
    STREAM_ARN,
    FakeLambdaContext,
    FlakyEvents,
    FlakySns,
    OrdersAws,
    event_ids,
    failures,
    load_sample,
    stream_record,
)

from runtime.common.dead_letter import dead_letter_id
from runtime.orders import domain, handler
from runtime.orders.domain import domain_event_id
from runtime.orders.handler import Outcome
from runtime.orders.idempotency import EXPIRES_AFTER_SECONDS

Handler = Callable[[Any, Any], dict[str, Any]]
HANDLERS: dict[str, Handler] = {
    "standard": handler.process_standard,
    "premium": handler.process_premium,
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run(flow: str, records: Any, context: FakeLambdaContext) -> list[str]:
    """Invoke like a Pipe and return the eventIDs to retry."""
    response = HANDLERS[flow](records, context)
    assert set(response) == {"batchItemFailures"}
    return failures(response)


def orders(events: list[dict[str, Any]]) -> list[str]:
    return [event["detail"]["orderId"] for event in events]


def flaky_events(flow: Any, **kwargs: Any) -> FlakyEvents:
    """Wrap the cached runtime's events client (the runtime is built on first call)."""
    publisher = handler.runtime(flow).publisher
    flaky = FlakyEvents(publisher.events, **kwargs)
    publisher._events = flaky
    return flaky


def emf_lines(output: str) -> list[dict[str, Any]]:
    """EMF documents printed by Metrics; single values normalised (Powertools writes [v])."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [
        {
            key: value[0] if isinstance(value, list) and len(value) == 1 else value
            for key, value in line.items()
        }
        for line in lines
        if "_aws" in line
    ]


# --- the seed scenario -------------------------------------------------------------


def test_seed_record_through_premium(cold_orders_aws: OrdersAws, lambda_context: Any) -> None:
    orders_aws = cold_orders_aws
    records = load_sample("seed-stream-record.json")
    assert run("premium", records, lambda_context) == []

    [event] = orders_aws.published()
    key = sha256("PremiumOrderShipped|ORD-1001|pending|shipped")
    assert event["source"] == SOURCE
    assert event["detail-type"] == "PremiumOrderShipped"
    assert event["detail"] == {
        "eventId": domain_event_id(key),
        "orderId": "ORD-1001",
        "status": "shipped",
        "previousStatus": "pending",
        "amount": "1500",
        "customerEmail": "vip@example.com",
        "eventName": "MODIFY",
        "sourceEventId": records[0]["eventID"],
        "idempotencyKey": key,
    }
    [note] = orders_aws.notifications()
    assert note["message"] == {"detailType": "PremiumOrderShipped", **event["detail"]}
    assert note["attributes"] == {
        "detailType": "PremiumOrderShipped",
        "orderId": "ORD-1001",
        "idempotencyKey": key,
        "eventId": domain_event_id(key),
    }
    assert orders_aws.dead_letters() == []


def test_seed_record_through_standard(orders_aws: OrdersAws, lambda_context: Any) -> None:
    assert run("standard", load_sample("seed-stream-record.json"), lambda_context) == []
    [event] = orders_aws.published()
    assert event["detail-type"] == "OrderAccepted"
    assert event["detail"]["amount"] == "1500"
    assert event["detail"]["idempotencyKey"] == sha256("OrderAccepted|ORD-1001|pending|shipped")
    assert orders_aws.notifications() == []


def test_seed_document_sample_without_event_id_is_dead_lettered(
    orders_aws: OrdersAws, lambda_context: Any
) -> None:
    """The seed's hand-written sample has no eventID: Pipes never send that, nor can a
    failure of it be reported, so it is a malformed record."""
    sample = load_sample("seed-stream-record.json")[0]
    bare = {"eventName": "MODIFY", "dynamodb": sample["dynamodb"]}
    assert run("premium", [bare], lambda_context) == []
    [letter] = orders_aws.dead_letters()
    assert letter["body"]["reason"] == domain.MALFORMED_RECORD
    assert letter["body"]["source"]["orderId"] == "ORD-1001"
    assert orders_aws.published() == []


# --- decisions end to end ----------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "published"),
    [
        ("X@TEST.COM", False),
        ("a@sub.test.com", False),
        ("QA@Test.com", False),
        ("a@nottest.com", True),
        ("test.com@example.com", True),
    ],
)
@pytest.mark.parametrize("flow", ["standard", "premium"])
def test_test_customers(
    orders_aws: OrdersAws, lambda_context: Any, flow: str, email: str, published: bool
) -> None:
    assert run(flow, [stream_record(email=email)], lambda_context) == []
    assert len(orders_aws.published()) == int(published)
    assert len(orders_aws.notifications()) == int(published and flow == "premium")
    assert orders_aws.dead_letters() == []


@pytest.mark.parametrize(
    ("flow", "amount", "published"),
    [
        ("standard", "100", False),
        ("standard", "100.01", True),
        ("standard", "1000", True),
        ("premium", "100.01", False),
        ("premium", "1000", False),
        ("premium", "1000.01", True),
    ],
)
def test_amount_boundaries(
    orders_aws: OrdersAws, lambda_context: Any, flow: str, amount: str, published: bool
) -> None:
    assert run(flow, [stream_record(amount=amount)], lambda_context) == []
    events = orders_aws.published()
    assert [event["detail"]["amount"] for event in events] == ([amount] if published else [])


def test_batch_of_100_with_one_bad_record(
    orders_aws: OrdersAws, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [stream_record(f"ORD-{n:03}", sequence=n) for n in range(100)]
    bad = stream_record("ORD-050", amount="12abc", sequence=50)
    records[50] = bad
    capsys.readouterr()

    assert run("standard", records, lambda_context) == []

    published = orders_aws.published()
    assert sorted(orders(published)) == sorted(f"ORD-{n:03}" for n in range(100) if n != 50)
    [letter] = orders_aws.dead_letters()
    source = {
        "eventSourceARN": STREAM_ARN,
        "eventID": bad["eventID"],
        "sequenceNumber": bad["dynamodb"]["SequenceNumber"],
        "orderId": "ORD-050",
    }
    assert letter["body"]["reason"] == domain.INVALID_AMOUNT
    assert "12abc" in letter["body"]["message"]
    assert letter["body"]["record"] == bad
    assert letter["body"]["source"] == source
    assert letter["body"]["pipeline"] == "premium"
    assert letter["body"]["id"] == dead_letter_id("premium", source)
    assert letter["attributes"]["reason"] == domain.INVALID_AMOUNT

    [emf] = emf_lines(capsys.readouterr().out)
    values = {name: emf[name] for name in emf if name[0].isupper() and name != "Flow"}
    assert values == {
        "OrdersAccepted": 99.0,
        "OrdersSkipped": 0.0,
        "RecordsDeadLettered": 1.0,
        "DuplicatesSuppressed": 0.0,
        "RecordsFailed": 0.0,
    }
    assert emf["Flow"] == "standard"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "orderflow"


def without(mapping: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in names}


def with_dynamodb(**changes: Any) -> dict[str, Any]:
    record = stream_record()
    dynamodb = {**record["dynamodb"], **changes}
    return {**record, "dynamodb": {k: v for k, v in dynamodb.items() if v is not None}}


def with_new_image(**changes: Any) -> dict[str, Any]:
    record = stream_record()
    new_image = {**record["dynamodb"]["NewImage"], **changes}
    new_image = {k: v for k, v in new_image.items() if v is not None}
    return with_dynamodb(NewImage=new_image)


def without_order_id() -> dict[str, Any]:
    record = with_new_image(orderId=None)
    del record["dynamodb"]["Keys"]
    return record


BAD_RECORDS: list[tuple[str, Any]] = [
    (domain.REMOVE_EVENT, stream_record(event_name="REMOVE")),
    (domain.MISSING_NEW_IMAGE, with_dynamodb(NewImage=None)),
    (domain.MISSING_ORDER_ID, without_order_id()),
    (domain.INVALID_AMOUNT, stream_record(amount=None)),
    (domain.INVALID_AMOUNT, stream_record(amount="a lot")),
    (domain.INVALID_AMOUNT, stream_record(amount="NaN")),
    (domain.INVALID_AMOUNT, stream_record(amount="Infinity")),
    (domain.INVALID_AMOUNT, stream_record(amount="-1500")),
    (domain.INVALID_AMOUNT, with_new_image(amount={"S": "1500"})),
    (domain.UNKNOWN_STATUS, stream_record(new_status="teleported")),
    (domain.UNKNOWN_STATUS, stream_record(new_status=None)),
    (domain.UNKNOWN_STATUS, stream_record(old_status="teleported")),
    (domain.MALFORMED_RECORD, "just a string"),
    (domain.MALFORMED_RECORD, ["a", "list"]),
    (domain.MALFORMED_RECORD, without(stream_record(), "dynamodb")),
    (domain.MALFORMED_RECORD, without(stream_record(), "eventID")),
    (domain.MALFORMED_RECORD, stream_record(event_name="UPSERT")),
]


@pytest.mark.parametrize(("reason", "record"), BAD_RECORDS)
@pytest.mark.parametrize("flow", ["standard", "premium"])
def test_every_bad_data_reason_is_dead_lettered(
    orders_aws: OrdersAws, lambda_context: Any, flow: str, reason: str, record: Any
) -> None:
    good = stream_record("ORD-GOOD", sequence=7)
    assert run(flow, [record, good], lambda_context) == []

    [letter] = orders_aws.dead_letters()
    body = letter["body"]
    assert set(body) == {"id", "pipeline", "reason", "message", "source", "record", "timestamp"}
    assert body["reason"] == reason
    assert body["message"]
    assert body["record"] == record
    assert body["source"] == domain.record_source(record)
    assert body["id"] == dead_letter_id("premium", body["source"])
    assert orders(orders_aws.published()) == ["ORD-GOOD"]


# --- at-least-once delivery, exactly-once effects -----------------------------------


def test_transient_put_events_failure_then_redelivery(
    orders_aws: OrdersAws, lambda_context: Any
) -> None:
    records = [stream_record(f"ORD-{n}", sequence=n) for n in range(1, 4)]
    flaky = flaky_events("premium", failing={"ORD-2"})

    assert run("premium", records, lambda_context) == [records[1]["eventID"]]
    assert flaky.attempts["ORD-2"] == 3  # retried in-process before failing the record
    assert sorted(orders(orders_aws.published())) == ["ORD-1", "ORD-3"]
    assert len(orders_aws.notifications()) == 2
    assert len(orders_aws.idempotency_items()) == 4  # the failed claim was released

    flaky.failing.clear()
    assert run("premium", records, lambda_context) == []
    assert orders(orders_aws.published()) == ["ORD-2"]
    assert [n["attributes"]["orderId"] for n in orders_aws.notifications()] == ["ORD-2"]


def test_sns_failure_retries_only_the_notification(
    orders_aws: OrdersAws, lambda_context: Any
) -> None:
    record = stream_record()
    publisher = handler.runtime("premium").publisher
    publisher._sns = FlakySns(publisher.sns, failing={"ORD-1001"}, budget=1)

    assert run("premium", [record], lambda_context) == [record["eventID"]]
    assert len(orders_aws.published()) == 1
    assert orders_aws.notifications() == []

    assert run("premium", [record], lambda_context) == []
    assert orders_aws.published() == []  # the bus event is not repeated
    assert len(orders_aws.notifications()) == 1


@pytest.mark.parametrize("flow", ["standard", "premium"])
def test_redelivered_batch_publishes_nothing_new(
    orders_aws: OrdersAws, lambda_context: Any, flow: str, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [stream_record(f"ORD-{n}", sequence=n) for n in range(10)]
    assert run(flow, records, lambda_context) == []
    assert len(orders_aws.published()) == 10
    assert len(orders_aws.notifications()) == (10 if flow == "premium" else 0)
    capsys.readouterr()

    assert run(flow, records, lambda_context) == []
    assert orders_aws.published() == []
    assert orders_aws.notifications() == []
    [emf] = emf_lines(capsys.readouterr().out)
    assert emf["DuplicatesSuppressed"] == 10.0


def test_same_transition_twice_in_one_batch_publishes_once(
    orders_aws: OrdersAws, lambda_context: Any
) -> None:
    first = stream_record(event_id="evt-a", sequence=1)
    again = stream_record(event_id="evt-b", sequence=2)
    rt = handler.runtime("premium")
    rt.idempotency.register_context(lambda_context)

    report = handler.process_batch([first, again], rt)

    assert report.outcomes == [Outcome.PUBLISHED, Outcome.DUPLICATE]
    assert len(orders_aws.published()) == 1
    assert len(orders_aws.notifications()) == 1


def test_standard_and_premium_keys_do_not_collide(
    orders_aws: OrdersAws, lambda_context: Any
) -> None:
    record = stream_record()
    assert run("standard", [record], lambda_context) == []
    assert run("premium", [record], lambda_context) == []
    types = sorted(event["detail-type"] for event in orders_aws.published())
    assert types == ["OrderAccepted", "PremiumOrderShipped"]


def test_failed_order_holds_back_its_later_records(
    orders_aws: OrdersAws, lambda_context: Any
) -> None:
    """Publishing ORD-9's INSERT fails, so its MODIFY waits: consumers see them in order."""
    insert = stream_record(
        "ORD-9", event_name="INSERT", new_status="pending", old_status=None, sequence=1
    )
    other = stream_record("ORD-8", sequence=2)
    modify = stream_record("ORD-9", sequence=3)
    flaky = flaky_events("standard", failing={"ORD-9"}, budget=3)

    assert run("standard", [insert, other, modify], lambda_context) == event_ids([insert, modify])
    assert flaky.attempts["ORD-9"] == 3  # the MODIFY was never attempted
    assert orders(orders_aws.published()) == ["ORD-8"]

    assert run("standard", [insert, other, modify], lambda_context) == []
    published = orders_aws.published()
    assert [(e["detail"]["orderId"], e["detail"]["status"]) for e in published] == [
        ("ORD-9", "pending"),
        ("ORD-9", "shipped"),
    ]


def powertools_id(effect: str, key: str) -> str:
    return f"premium.{effect}#" + sha256(json.dumps(key))


def test_idempotency_records(orders_aws: OrdersAws, lambda_context: Any) -> None:
    key = sha256("PremiumOrderShipped|ORD-1001|pending|shipped")
    before = time.time()
    assert run("premium", [stream_record()], lambda_context) == []

    items = {item["id"]["S"]: item for item in orders_aws.idempotency_items()}
    assert set(items) == {powertools_id("event", key), powertools_id("notification", key)}
    for item in items.values():
        assert item["status"]["S"] == "COMPLETED"
        expiration = int(item["expiration"]["N"])
        assert (
            before + EXPIRES_AFTER_SECONDS - 5 <= expiration <= time.time() + EXPIRES_AFTER_SECONDS
        )


def test_claim_held_by_another_invocation_fails_the_record(
    orders_aws: OrdersAws, lambda_context: Any
) -> None:
    key = sha256("PremiumOrderShipped|ORD-1001|pending|shipped")
    now = time.time()
    orders_aws.dynamodb.put_item(
        TableName=IDEMPOTENCY_TABLE,
        Item={
            "id": {"S": powertools_id("event", key)},
            "status": {"S": "INPROGRESS"},
            "expiration": {"N": str(int(now) + 3600)},
            "in_progress_expiration": {"N": str(int(now * 1000) + 60_000)},
        },
    )
    record = stream_record()
    assert run("premium", [record], lambda_context) == [record["eventID"]]
    assert orders_aws.published() == []


def test_expired_claim_of_a_crashed_invocation_is_taken_over(
    orders_aws: OrdersAws, lambda_context: Any
) -> None:
    key = sha256("PremiumOrderShipped|ORD-1001|pending|shipped")
    now = time.time()
    orders_aws.dynamodb.put_item(
        TableName=IDEMPOTENCY_TABLE,
        Item={
            "id": {"S": powertools_id("event", key)},
            "status": {"S": "INPROGRESS"},
            "expiration": {"N": str(int(now) + 3600)},
            "in_progress_expiration": {"N": str(int(now * 1000) - 1000)},
        },
    )
    assert run("premium", [stream_record()], lambda_context) == []
    assert len(orders_aws.published()) == 1


def test_idempotency_table_unavailable_fails_records(
    orders_aws: OrdersAws, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "no-such-table")
    record = stream_record()
    assert run("standard", [record], lambda_context) == [record["eventID"]]
    assert orders_aws.published() == []


# --- dead-letter queue failures and wiring errors -------------------------------------


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_unavailable_dead_letter_queue(
    orders_aws: OrdersAws, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "DEAD_LETTER_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/missing"
    )
    bad = stream_record("ORD-1", amount="NaN", sequence=1)
    good = stream_record("ORD-2", sequence=2)
    assert run("standard", [bad, good], lambda_context) == [bad["eventID"]]
    assert orders(orders_aws.published()) == ["ORD-2"]

    # A record without an eventID cannot be reported: the whole invocation must fail.
    with pytest.raises(ClientError):
        run("standard", [good, "garbage"], lambda_context)


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_records_envelope_is_rejected(orders_aws: OrdersAws, lambda_context: Any) -> None:
    with pytest.raises(TypeError, match="bare JSON list"):
        handler.process_standard({"Records": [stream_record()]}, lambda_context)


def test_empty_batch(orders_aws: OrdersAws, lambda_context: Any) -> None:
    assert run("premium", [], lambda_context) == []


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_missing_configuration_fails_the_invocation(
    orders_aws: OrdersAws, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOPIC_ARN")
    with pytest.raises(ValueError, match="TOPIC_ARN"):
        run("premium", [stream_record()], lambda_context)
    assert run("standard", [stream_record()], lambda_context) == []


def test_logs_carry_the_event_id_as_correlation_id(
    orders_aws: OrdersAws, lambda_context: Any
) -> None:
    record = stream_record(email="qa@test.com")
    stream = handler.logger.registered_handler
    assert isinstance(stream, logging.StreamHandler)
    buffer = io.StringIO()
    previous = stream.setStream(buffer)
    try:
        run("standard", [record], lambda_context)
    finally:
        stream.setStream(previous)
    logs = [json.loads(line) for line in buffer.getvalue().splitlines()]
    [skipped] = [log for log in logs if log.get("message") == "record skipped"]
    assert skipped["correlation_id"] == record["eventID"]
    assert skipped["reason"] == domain.TEST_CUSTOMER
    assert "qa@" not in json.dumps(logs)  # no email addresses in logs
    [summary] = [log for log in logs if log.get("message") == "batch processed"]
    assert summary["skipped"] == 1
    assert summary["skipReasons"] == {domain.TEST_CUSTOMER: 1}


def test_import_stays_light() -> None:
    """boto3 and the Powertools idempotency module load on first use, not at import."""
    code = (
        "import sys, runtime.orders.handler; "
        "print(sorted(m for m in ('boto3', 'aws_lambda_powertools.utilities.idempotency', "
        "'botocore.client') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
