"""validate_batch end to end against moto: table, dead-letter queue, retries, idempotency."""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from typing import Any

import boto3
import pytest
from validation_support import (
    BUCKET,
    Aws,
    FakeLambdaContext,
    batch_event,
    seed_records,
    valid_record,
)

from runtime.common import clients
from runtime.common.dead_letter import DeadLetterError
from runtime.common.retry import RetryPolicy
from runtime.validation import handler
from runtime.validation.schema import RECORD_REASONS
from runtime.validation.store import UnprocessedItemsError


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record backoff sleeps instead of sleeping."""
    sleeps: list[float] = []
    monkeypatch.setattr(
        handler, "RETRY", RetryPolicy(max_attempts=8, sleep=sleeps.append, rng=random.Random(3))
    )
    return sleeps


def run(event: dict[str, Any], context: FakeLambdaContext) -> dict[str, int]:
    result: dict[str, int] = handler.validate_batch(event, context)
    assert set(result) == {"stored", "deadLettered"}
    assert result["stored"] + result["deadLettered"] == len(event["Items"])
    return result


def by_index(messages: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {m["body"]["source"]["recordIndex"]: m for m in messages}


def test_seed_mock_data(aws: Aws, context: FakeLambdaContext) -> None:
    records = seed_records()
    event = batch_event(records, key="mock-data.json", file_format="orders_object")
    assert run(event, context) == {"stored": 1, "deadLettered": 1}

    assert aws.scan() == [
        {
            "orderId": {"S": "1"},
            "itemId": {"S": "101"},
            "itemDescription": {"S": "Item One"},
            "quantity": {"N": "1"},
            "customerName": {"S": "Foo Bar"},
            "customerEmail": {"S": "foobar@test.com"},
            "sourceBucket": {"S": BUCKET},
            "sourceKey": {"S": "mock-data.json"},
            "recordIndex": {"N": "0"},
            "ingestedAt": {"S": "2024-05-01T12:00:00Z"},
        }
    ]
    [message] = aws.dead_letters()
    body = message["body"]
    assert body["record"] == records[1]
    assert message["raw"].count('"OrderId"') == 0  # the verbatim record keeps its spelling
    assert body["reason"] == "missing_contact_info"
    assert body["pipeline"] == "validation"
    assert body["source"] == {
        "bucket": BUCKET,
        "key": "mock-data.json",
        "versionId": None,
        "recordIndex": 1,
    }
    assert body["message"] == "contact-info is missing"
    assert message["attributes"] == {
        "reason": "missing_contact_info",
        "pipeline": "validation",
        "deadLetterId": body["id"],
    }
    assert len(body["id"]) == 64


def test_version_id_is_stored_and_description_omitted_when_absent(
    aws: Aws, context: FakeLambdaContext
) -> None:
    record = valid_record(8)
    del record["order-info"]["item-desc"]
    run(batch_event([record], start=41, version_id="v-123"), context)
    [item] = aws.scan()
    assert "itemDescription" not in item
    assert item["sourceVersionId"] == {"S": "v-123"}
    assert item["recordIndex"] == {"N": "41"}


def test_all_valid(aws: Aws, context: FakeLambdaContext) -> None:
    assert run(batch_event([valid_record(i) for i in range(60)]), context) == {
        "stored": 60,
        "deadLettered": 0,
    }
    assert aws.item_count() == 60
    assert aws.queue_depth() == 0


def test_all_invalid(aws: Aws, context: FakeLambdaContext) -> None:
    records: list[Any] = [None, [], "x", 5, {}, {"order-info": {}}]
    assert run(batch_event(records), context) == {"stored": 0, "deadLettered": 6}
    assert aws.item_count() == 0
    reasons = {i: m["body"]["reason"] for i, m in by_index(aws.dead_letters()).items()}
    assert reasons == {
        0: "not_an_object",
        1: "not_an_object",
        2: "not_an_object",
        3: "not_an_object",
        4: "missing_order_info",
        5: "missing_contact_info",
    }


def malformed(n: int, section: str, field: str, value: Any) -> dict[str, Any]:
    record = valid_record(n)
    record[section][field] = value
    return record


def test_mixed_batch_with_malformed_values(aws: Aws, context: FakeLambdaContext) -> None:
    ambiguous = valid_record(9)
    ambiguous["order-info"]["OrderId"] = "99"
    wrong_case = {
        "Order_Info": {"ORDERID": "10", "ItemID": "i", "QTY": "2"},
        "CONTACTINFO": {"NAME": "Case", "EMAIL": "case@example.com"},
    }
    records: list[Any] = [
        valid_record(0),
        malformed(1, "order-info", "qty", 0),
        malformed(2, "order-info", "qty", -1),
        malformed(3, "order-info", "qty", 1.5),
        malformed(4, "order-info", "qty", "abc"),
        malformed(5, "order-info", "qty", True),
        malformed(6, "contact-info", "email", "not-an-email"),
        malformed(7, "contact-info", "name", ""),
        malformed(8, "order-info", "orderId", {"id": 8}),
        ambiguous,
        wrong_case,
        valid_record(11),
    ]
    assert run(batch_event(records), context) == {"stored": 3, "deadLettered": 9}
    assert [item["orderId"]["S"] for item in aws.scan()] == ["0", "10", "11"]
    letters = by_index(aws.dead_letters())
    assert {i: m["body"]["reason"] for i, m in letters.items()} == {
        **{i: "invalid_field" for i in range(1, 9)},
        9: "ambiguous_field",
    }
    assert "order-info.qty must be a positive integer, got 0" in letters[1]["body"]["message"]
    for index, message in letters.items():
        assert message["body"]["record"] == records[index]


def test_duplicate_order_ids_in_one_batch(aws: Aws, context: FakeLambdaContext) -> None:
    first = valid_record(1, qty=1)
    again = valid_record(1, qty=5)
    as_int = valid_record(1, orderId=1)
    assert run(batch_event([first, again, valid_record(2), as_int]), context) == {
        "stored": 2,
        "deadLettered": 2,
    }
    items = {item["orderId"]["S"]: item for item in aws.scan()}
    assert items["1"]["quantity"] == {"N": "1"}
    assert items["1"]["recordIndex"] == {"N": "0"}
    letters = by_index(aws.dead_letters())
    assert sorted(letters) == [1, 3]
    assert {m["body"]["reason"] for m in letters.values()} == {"duplicate_order_id"}
    assert "already appears at record index 0" in letters[1]["body"]["message"]


def test_duplicates_across_batches_are_last_writer_wins(
    aws: Aws, context: FakeLambdaContext
) -> None:
    run(batch_event([valid_record(1, qty=1)], start=0), context)
    run(batch_event([valid_record(1, qty=2)], start=1000), context)
    [item] = aws.scan()
    assert (item["quantity"], item["recordIndex"]) == ({"N": "2"}, {"N": "1000"})
    assert aws.queue_depth() == 0


def test_ten_thousand_records_in_chunks_of_a_thousand(aws: Aws, context: FakeLambdaContext) -> None:
    # Every 25th record is incomplete. (moto's SQS slows down quadratically with queue depth,
    # so the dead-letter share is kept small to keep the suite fast.)
    records: list[Any] = []
    for i in range(10_000):
        record = valid_record(i)
        if i % 25 == 7:
            del record["contact-info"]
        records.append(record)
    expected_dead = sum("contact-info" not in r for r in records)
    totals: Counter[str] = Counter()
    for start in range(0, 10_000, 1000):
        totals.update(run(batch_event(records[start : start + 1000], start=start), context))
    assert expected_dead == 400
    assert totals == {"stored": 10_000 - expected_dead, "deadLettered": expected_dead}
    stored, dead_lettered = aws.count_items(), aws.queue_depth()
    assert (stored, dead_lettered) == (10_000 - expected_dead, expected_dead)
    assert stored + dead_lettered == 10_000


class FlakyDynamoDB:
    """Real (moto) DynamoDB whose BatchWriteItem leaves some items unprocessed at first."""

    def __init__(self, real: Any, flaky_calls: int):
        self.real = real
        self.flaky_calls = flaky_calls
        self.sizes: list[int] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> Any:
        [(table, requests)] = RequestItems.items()
        self.sizes.append(len(requests))
        if len(self.sizes) <= self.flaky_calls:
            keep, skip = requests[: len(requests) // 2], requests[len(requests) // 2 :]
            if keep:
                self.real.batch_write_item(RequestItems={table: keep})
            return {"UnprocessedItems": {table: skip}}
        return self.real.batch_write_item(RequestItems=RequestItems)


def patch_dynamodb(monkeypatch: pytest.MonkeyPatch, fake: FlakyDynamoDB) -> None:
    real_client = clients.client

    def client(service: str) -> Any:
        return fake if service == "dynamodb" else real_client(service)

    monkeypatch.setattr(clients, "client", client)


def test_unprocessed_items_are_retried_with_backoff(
    aws: Aws, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch, fast_retries: list[float]
) -> None:
    fake = FlakyDynamoDB(boto3.client("dynamodb"), flaky_calls=2)
    patch_dynamodb(monkeypatch, fake)
    assert run(batch_event([valid_record(i) for i in range(20)]), context)["stored"] == 20
    assert fake.sizes == [20, 10, 5]
    assert len(fast_retries) == 2
    assert aws.item_count() == 20


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_unprocessed_items_exhausted_raises(
    aws: Aws, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch, fast_retries: list[float]
) -> None:
    fake = FlakyDynamoDB(boto3.client("dynamodb"), flaky_calls=10**6)
    patch_dynamodb(monkeypatch, fake)
    with pytest.raises(UnprocessedItemsError, match="still unprocessed"):
        handler.validate_batch(batch_event([valid_record(i) for i in range(25)]), context)
    assert len(fake.sizes) == 8
    assert len(fast_retries) == 7
    assert fake.sizes[-1] == 1  # 25 -> 13 -> 7 -> 4 -> 2 -> 1 ...: one item never written
    assert aws.item_count() == 24


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_dead_letter_failures_fail_the_invocation(
    aws: Aws, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    class BrokenSqs:
        def send_message_batch(self, **kwargs: Any) -> Any:
            return {
                "Failed": [
                    {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"}
                    for e in kwargs["Entries"]
                ]
            }

    real_client = clients.client
    monkeypatch.setattr(clients, "client", lambda s: BrokenSqs() if s == "sqs" else real_client(s))
    with pytest.raises(DeadLetterError, match="retries exhausted"):
        handler.validate_batch(batch_event([valid_record(1), {}]), context)


def test_reprocessing_leaves_table_unchanged_and_reuses_dead_letter_ids(
    aws: Aws, context: FakeLambdaContext
) -> None:
    records: list[Any] = [valid_record(i) if i % 4 else {"order-info": {}} for i in range(300)]
    events = [batch_event(records[s : s + 100], start=s, version_id="v1") for s in (0, 100, 200)]
    for event in events:
        run(event, context)
    table_before = aws.scan()
    ids_before = sorted(m["body"]["id"] for m in aws.dead_letters())

    for event in reversed(events):
        run(event, context)
    assert aws.scan() == table_before
    assert json.dumps(aws.scan(), sort_keys=True) == json.dumps(table_before, sort_keys=True)
    ids_after = sorted(m["body"]["id"] for m in aws.dead_letters())
    assert ids_after == ids_before
    assert len(set(ids_before)) == 75


def test_pipeline_name_from_environment(
    aws: Aws, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_NAME", "validation-eu")
    run(batch_event([{}]), context)
    [message] = aws.dead_letters()
    assert message["body"]["pipeline"] == "validation-eu"
    assert message["attributes"]["pipeline"] == "validation-eu"


def test_huge_record_is_rejected_and_its_dead_letter_truncated(
    aws: Aws, context: FakeLambdaContext
) -> None:
    record = valid_record(1)
    record["attachment"] = "x" * 300_000
    run(batch_event([record]), context)
    [message] = aws.dead_letters()
    assert message["body"]["reason"] == "record_too_large"
    assert message["body"]["record"]["truncated"] is True
    assert "record truncated" in message["body"]["message"]
    assert len(message["raw"]) < 262_144


def test_metrics_and_summary_log(
    aws: Aws,
    context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    run(batch_event([valid_record(1), valid_record(2), {}]), context)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    [emf] = [line for line in lines if "_aws" in line]
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert {m["Name"] for m in directive["Metrics"]} == {"RecordsStored", "RecordsDeadLettered"}
    assert {m["Unit"] for m in directive["Metrics"]} == {"Count"}
    assert (emf["RecordsStored"], emf["RecordsDeadLettered"]) == ([2.0], [1.0])
    assert directive["Namespace"] == handler.metrics.namespace
    # The Logger's handler holds the stdout of import time, so read the log records instead.
    [summary] = [r for r in caplog.records if r.getMessage() == "batch validated"]
    assert (summary.__dict__["stored"], summary.__dict__["deadLettered"]) == (2, 1)
    assert summary.__dict__["reasons"] == {"missing_order_info": 1}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Items": [], "BatchInput": None},
        {"Items": {}, "BatchInput": {}},
        batch_event([1]) | {"BatchInput": {"bucket": BUCKET}},
        batch_event([1], file_format="rejected"),
        batch_event([1]) | {"Items": [{"value": 1}]},
        batch_event([1]) | {"Items": [{"index": True, "value": 1}]},
        batch_event([1]) | {"Items": [{"index": 0}]},
        batch_event([1] * 1001),
    ],
)
def test_malformed_envelopes_fail_loudly(
    aws: Aws, context: FakeLambdaContext, event: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        handler.validate_batch(event, context)
    assert aws.item_count() == 0
    assert aws.queue_depth() == 0


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_missing_configuration_fails(
    aws: Aws, context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TABLE_NAME")
    with pytest.raises(RuntimeError, match="TABLE_NAME"):
        handler.validate_batch(batch_event([valid_record(1)]), context)


def test_empty_batch(aws: Aws, context: FakeLambdaContext) -> None:
    assert run(batch_event([]), context) == {"stored": 0, "deadLettered": 0}


def test_every_reason_used_is_known(aws: Aws, context: FakeLambdaContext) -> None:
    records: list[Any] = [None, {}, {"order-info": {}}, valid_record(1), valid_record(1)]
    run(batch_event(records), context)
    assert {m["body"]["reason"] for m in aws.dead_letters()} <= RECORD_REASONS
