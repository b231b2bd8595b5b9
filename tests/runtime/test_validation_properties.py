"""Property tests: whatever arrives, every record ends in exactly one place."""

from __future__ import annotations

import copy
import json
import os
from typing import Any
from unittest.mock import patch

import boto3
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from validation_support import BUCKET, QUEUE, TABLE, Aws, FakeLambdaContext, batch_event

from runtime.common import clients
from runtime.common.dead_letter import SQS_MAX_MESSAGE_BYTES, build_dead_letter
from runtime.validation import handler
from runtime.validation.batch import BatchInput, BatchItem, plan_batch
from runtime.validation.file_format import FILE_REASONS, classify
from runtime.validation.schema import RECORD_REASONS, Rejection, ValidRecord, validate_record

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)

valid_records = st.builds(
    lambda order_id, item_id, desc, qty, name, email: {
        "order-info": {"orderId": order_id, "item-id": item_id, "item-desc": desc, "qty": qty},
        "contact-info": {"name": name, "email": email},
    },
    # A small id space, so duplicate orderIds inside a batch are common.
    st.one_of(st.integers(0, 40), st.integers(0, 40).map(str)),
    st.text(min_size=1, max_size=10).filter(str.strip),
    st.none() | st.text(max_size=30),
    st.one_of(st.integers(1, 1000), st.integers(1, 1000).map(str)),
    st.text(min_size=1, max_size=20).filter(str.strip),
    st.from_regex(r"[a-z0-9.+]{1,10}@[a-z0-9]{1,8}\.[a-z]{2,4}", fullmatch=True),
)

MUTATIONS = [
    "keep",
    "drop_section",
    "drop_field",
    "replace_value",
    "respell",
    "second_spelling",
    "not_an_object",
]
RESPELL = [str.upper, str.lower, str.title, lambda k: k.replace("-", "_"), lambda k: k + "_"]


@st.composite
def records(draw: st.DrawFn) -> Any:
    """A valid record, possibly mutated into any of the ways real data goes wrong."""
    record: dict[str, Any] = copy.deepcopy(draw(valid_records))
    mutation = draw(st.sampled_from(MUTATIONS))
    if mutation == "keep":
        return record
    if mutation == "not_an_object":
        return draw(json_values.filter(lambda v: not isinstance(v, dict)))
    section = draw(st.sampled_from(sorted(record)))
    if mutation == "drop_section":
        del record[section]
        return record
    field = draw(st.sampled_from(sorted(record[section])))
    if mutation == "drop_field":
        del record[section][field]
    elif mutation == "replace_value":
        record[section][field] = draw(json_values)
    elif mutation == "respell":
        record[section][draw(st.sampled_from(RESPELL))(field)] = record[section].pop(field)
    else:
        record[section][field.upper()] = record[section][field]
    return record


BATCH = BatchInput(BUCKET, "orders.json", None, "2024-05-01T12:00:00Z", "json_array")


@given(st.lists(records(), max_size=60))
@settings(max_examples=300, deadline=None)
def test_plan_accounts_for_every_record(values: list[Any]) -> None:
    items = [BatchItem(i, v) for i, v in enumerate(values)]
    plan = plan_batch(items, BATCH, pipeline="validation")
    assert len(plan.items) + len(plan.dead_letters) == len(values)

    stored_indexes = [int(item["recordIndex"]["N"]) for item in plan.items]
    bodies = [letter.payload() for letter in plan.dead_letters]
    dead_indexes = [body["source"]["recordIndex"] for body in bodies]
    assert sorted(stored_indexes + dead_indexes) == list(range(len(values)))

    order_ids = [item["orderId"]["S"] for item in plan.items]
    assert len(order_ids) == len(set(order_ids))
    for body in bodies:
        assert body["reason"] in RECORD_REASONS
        assert body["message"]
        assert body["record"] == json.loads(json.dumps(values[body["source"]["recordIndex"]]))
    assert sum(plan.reasons.values()) == len(plan.dead_letters)
    event(f"stored>0: {bool(plan.items)}, dead-lettered>0: {bool(plan.dead_letters)}")
    for reason in plan.reasons:
        event(f"reason: {reason}")


@given(json_values)
@settings(max_examples=300, deadline=None)
def test_validate_never_raises(value: Any) -> None:
    outcome = validate_record(value)
    assert isinstance(outcome, ValidRecord | Rejection)
    if isinstance(outcome, Rejection):
        assert outcome.reason in RECORD_REASONS


@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()), st.text())
@settings(max_examples=300, deadline=None)
def test_classify_never_raises(data: bytes, key: str) -> None:
    verdict = classify(data, size=len(data), key=key)
    assert verdict.format in {"json_array", "orders_object", "jsonl", "rejected"}
    assert (verdict.reason in FILE_REASONS) == verdict.rejected


@given(json_values, st.integers(0, 400_000))
@settings(max_examples=100, deadline=None)
def test_dead_letters_always_fit_sqs(value: Any, padding: int) -> None:
    record = {"value": value, "padding": "x" * padding}
    letter = build_dead_letter(
        pipeline="validation", reason="r", message="m", source={"i": 1}, record=record
    )
    assert letter.size <= SQS_MAX_MESSAGE_BYTES
    # Below 250,000 characters the message always fits; from 262,144 it never can. In
    # between, it depends on the value and the envelope's size.
    if padding <= 250_000:
        assert not letter.truncated
    elif padding >= SQS_MAX_MESSAGE_BYTES:
        assert letter.truncated
    if not letter.truncated:
        assert letter.payload()["record"] == json.loads(json.dumps(record))


@given(st.lists(records(), min_size=1, max_size=40))
@settings(
    max_examples=10,
    deadline=None,
    # The autouse credentials fixture only sets environment variables that every example
    # may share; each example builds its own mocked resources below.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_handler_accounts_for_every_record_against_moto(values: list[Any]) -> None:
    clients.reset()
    with mock_aws():
        sqs = boto3.client("sqs")
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        aws = Aws(boto3.client("s3"), dynamodb, sqs, BUCKET, TABLE, queue_url)
        env = {"TABLE_NAME": TABLE, "DEAD_LETTER_QUEUE_URL": queue_url}
        with patch.dict(os.environ, env):
            result = handler.validate_batch(batch_event(values), FakeLambdaContext())
        assert result["stored"] + result["deadLettered"] == len(values)
        assert aws.count_items() == result["stored"]
        letters = aws.dead_letters()
        assert len(letters) == result["deadLettered"]
        assert {m["body"]["reason"] for m in letters} <= RECORD_REASONS
    clients.reset()
