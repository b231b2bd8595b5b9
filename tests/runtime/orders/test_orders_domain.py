"""The pure order rules and the settings, without AWS."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orders_support import STREAM_ARN, load_sample, stream_record

from runtime.orders import domain
from runtime.orders.config import ConfigError, load_settings
from runtime.orders.domain import (
    OrderChange,
    PremiumRules,
    Publish,
    Rejection,
    Skip,
    StandardRules,
)

KNOWN = frozenset({"pending", "processing", "shipped", "delivered", "cancelled"})
STANDARD = StandardRules(frozenset({"pending", "shipped"}), Decimal(100), ("test.com",))
PREMIUM = PremiumRules("pending", "shipped", Decimal(1000), ("test.com",))
ENV = {
    "EVENT_BUS_NAME": "bus",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:topic",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
}


def without(mapping: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key != name}


def parsed(record: Any) -> OrderChange:
    change = domain.parse_record(record, KNOWN)
    assert isinstance(change, OrderChange), change
    return change


def rejected(record: Any) -> Rejection:
    rejection = domain.parse_record(record, KNOWN)
    assert isinstance(rejection, Rejection), rejection
    return rejection


def test_seed_record_parses_to_the_order_change() -> None:
    record = load_sample("seed-stream-record.json")[0]
    assert parsed(record) == OrderChange(
        order_id="ORD-1001",
        event_name="MODIFY",
        new_status="shipped",
        old_status="pending",
        amount=Decimal("1500"),
        customer_email="vip@example.com",
        event_id=record["eventID"],
        sequence_number=record["dynamodb"]["SequenceNumber"],
        event_source_arn=STREAM_ARN,
    )


def test_insert_has_no_old_status_and_order_id_falls_back_to_the_new_image() -> None:
    record = stream_record(event_name="INSERT", new_status="pending", old_status=None)
    del record["dynamodb"]["Keys"]
    change = parsed(record)
    assert (change.order_id, change.old_status, change.new_status) == ("ORD-1001", None, "pending")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Decimal(0)),
        ("100", Decimal(100)),
        ("100.01", Decimal("100.01")),
        ("1000.0000000000001", Decimal("1000.0000000000001")),
        ("1.5E3", Decimal(1500)),
        (".5", Decimal("0.5")),
        ("-0", Decimal(0)),
    ],
)
def test_amounts_are_exact_decimals(text: str, expected: Decimal) -> None:
    amount = domain.parse_amount({"N": text})
    assert isinstance(amount, Decimal)
    assert amount == expected
    assert not amount.is_signed()


@pytest.mark.parametrize(
    "attribute",
    [
        None,
        {"N": "abc"},
        {"N": "NaN"},
        {"N": "Infinity"},
        {"N": "-Infinity"},
        {"N": "sNaN"},
        {"N": "-5"},
        {"N": "-0.01"},
        {"N": "1_000"},
        {"N": "1e9999999999999999999999"},
        {"N": " 100"},
        {"N": ""},
        {"N": 1500},
        {"S": "1500"},
        "1500",
        1500,
    ],
)
def test_invalid_amounts(attribute: Any) -> None:
    rejection = domain.parse_amount(attribute)
    assert isinstance(rejection, Rejection)
    assert rejection.reason == domain.INVALID_AMOUNT


@pytest.mark.parametrize(
    ("email", "is_test"),
    [
        ("X@TEST.COM", True),
        ("a@sub.test.com", True),
        ("qa@Test.com", True),
        (" a@test.com ", True),
        ("a@test.com.", True),
        ("a@nottest.com", False),
        ("test.com@example.com", False),
        ("vip@example.com", False),
        ("a@test.com.example.com", False),
        ("a@test.co", False),
        ("no-at-sign", False),
        ("a@", False),
        ("", False),
        (None, False),
    ],
)
def test_test_customer_domains(email: str | None, is_test: bool) -> None:
    assert domain.is_test_email(email, ("test.com",)) is is_test


def test_several_test_domains() -> None:
    assert domain.is_test_email("a@qa.example.org", ("test.com", "qa.example.org"))
    assert not domain.is_test_email("a@example.org", ("test.com", "qa.example.org"))
    assert not domain.is_test_email("a@test.com", ())


def change(**overrides: Any) -> OrderChange:
    values: dict[str, Any] = {
        "order_id": "ORD-1",
        "event_name": "MODIFY",
        "new_status": "shipped",
        "old_status": "pending",
        "amount": Decimal(1500),
        "customer_email": "vip@example.com",
        "event_id": "e1",
        "sequence_number": "1",
        "event_source_arn": STREAM_ARN,
    }
    values.update(overrides)
    return OrderChange(**values)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        ({"event_name": "INSERT", "old_status": None, "new_status": "pending"}, None),
        ({"amount": Decimal(100)}, domain.BELOW_THRESHOLD),
        ({"amount": Decimal("100.01")}, None),
        ({"amount": Decimal(0)}, domain.BELOW_THRESHOLD),
        ({"new_status": "delivered"}, domain.STATUS_NOT_ACCEPTED),
        ({"customer_email": "X@TEST.COM"}, domain.TEST_CUSTOMER),
        ({"customer_email": "X@TEST.COM", "new_status": "cancelled"}, domain.STATUS_NOT_ACCEPTED),
        ({"customer_email": "x@test.com", "amount": Decimal(1)}, domain.TEST_CUSTOMER),
        ({"customer_email": None}, None),
    ],
)
def test_standard_decisions(overrides: dict[str, Any], reason: str | None) -> None:
    decision = domain.decide_standard(change(**overrides), STANDARD)
    if reason is None:
        assert isinstance(decision, Publish)
        assert decision.detail_type == domain.ORDER_ACCEPTED
    else:
        assert isinstance(decision, Skip)
        assert decision.reason == reason


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        ({"amount": Decimal(1000)}, domain.BELOW_THRESHOLD),
        ({"amount": Decimal("1000.01")}, None),
        ({"event_name": "INSERT", "old_status": None}, domain.NOT_PREMIUM_TRANSITION),
        ({"old_status": "processing"}, domain.NOT_PREMIUM_TRANSITION),
        ({"old_status": None}, domain.NOT_PREMIUM_TRANSITION),
        ({"new_status": "delivered"}, domain.NOT_PREMIUM_TRANSITION),
        ({"old_status": "shipped", "new_status": "shipped"}, domain.NOT_PREMIUM_TRANSITION),
        ({"customer_email": "a@sub.test.com"}, domain.TEST_CUSTOMER),
    ],
)
def test_premium_decisions(overrides: dict[str, Any], reason: str | None) -> None:
    decision = domain.decide_premium(change(**overrides), PREMIUM)
    if reason is None:
        assert isinstance(decision, Publish)
        assert decision.detail_type == domain.PREMIUM_ORDER_SHIPPED
    else:
        assert isinstance(decision, Skip)
        assert decision.reason == reason


def test_idempotency_key_is_per_type_order_and_transition() -> None:
    expected = hashlib.sha256(b"PremiumOrderShipped|ORD-1|pending|shipped").hexdigest()
    assert domain.idempotency_key("PremiumOrderShipped", change()) == expected
    assert domain.idempotency_key("PremiumOrderShipped", change(event_id="other")) == expected
    insert = change(event_name="INSERT", old_status=None, new_status="pending")
    assert domain.idempotency_key("OrderAccepted", insert) == (
        hashlib.sha256(b"OrderAccepted|ORD-1||pending").hexdigest()
    )


def test_event_entry_and_notification() -> None:
    decision = domain.decide_premium(change(amount=Decimal("1500.50")), PREMIUM)
    assert isinstance(decision, Publish)
    entry = domain.event_entry(decision, source="orderflow.orders", event_bus_name="bus")
    assert {k: v for k, v in entry.items() if k != "Detail"} == {
        "Source": "orderflow.orders",
        "DetailType": "PremiumOrderShipped",
        "EventBusName": "bus",
    }
    assert json.loads(entry["Detail"]) == {
        "eventId": domain.domain_event_id(decision.idempotency_key),
        "orderId": "ORD-1",
        "status": "shipped",
        "previousStatus": "pending",
        "amount": "1500.50",
        "customerEmail": "vip@example.com",
        "eventName": "MODIFY",
        "sourceEventId": "e1",
        "idempotencyKey": decision.idempotency_key,
    }
    note = domain.notification(decision)
    assert note.subject == "Premium order ORD-1 shipped (1500.50)"
    assert json.loads(note.message)["detailType"] == "PremiumOrderShipped"
    assert note.attributes == {
        "detailType": "PremiumOrderShipped",
        "orderId": "ORD-1",
        "idempotencyKey": decision.idempotency_key,
        "eventId": json.loads(entry["Detail"])["eventId"],
    }
    assert (note.group_id, note.deduplication_id) == ("ORD-1", decision.idempotency_key)


def test_notification_subject_and_group_survive_odd_order_ids() -> None:
    decision = domain.decide_premium(change(order_id="Bestellung-ü\n" + "x" * 200), PREMIUM)
    assert isinstance(decision, Publish)
    note = domain.notification(decision)
    assert len(note.subject) < 100
    assert all(" " <= char <= "~" for char in note.subject)
    assert len(note.group_id) == 64


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: "not a record", domain.MALFORMED_RECORD),
        (lambda r: without(r, "eventID"), domain.MALFORMED_RECORD),
        (lambda r: {**r, "eventName": "UPSERT"}, domain.MALFORMED_RECORD),
        (lambda r: without(r, "dynamodb"), domain.MALFORMED_RECORD),
        (lambda r: {**r, "dynamodb": {**r["dynamodb"], "OldImage": "x"}}, domain.MALFORMED_RECORD),
        (lambda r: {**r, "eventName": "REMOVE"}, domain.REMOVE_EVENT),
        (
            lambda r: {
                **r,
                "dynamodb": {k: v for k, v in r["dynamodb"].items() if k != "NewImage"},
            },
            domain.MISSING_NEW_IMAGE,
        ),
    ],
)
def test_envelope_rejections(mutate: Any, reason: str) -> None:
    assert rejected(mutate(stream_record())).reason == reason


def test_image_rejections() -> None:
    no_id = stream_record()
    del no_id["dynamodb"]["Keys"]
    del no_id["dynamodb"]["NewImage"]["orderId"]
    assert rejected(no_id).reason == domain.MISSING_ORDER_ID
    assert rejected(stream_record(new_status="lost")).reason == domain.UNKNOWN_STATUS
    assert rejected(stream_record(new_status=None)).reason == domain.UNKNOWN_STATUS
    assert rejected(stream_record(old_status="lost")).reason == domain.UNKNOWN_STATUS
    numeric_status = stream_record()
    numeric_status["dynamodb"]["NewImage"]["status"] = {"N": "1"}
    assert rejected(numeric_status).reason == domain.UNKNOWN_STATUS
    assert rejected(stream_record(amount=None)).reason == domain.INVALID_AMOUNT


def test_record_source_identifies_every_record() -> None:
    record = stream_record()
    assert domain.record_source(record) == {
        "eventSourceARN": STREAM_ARN,
        "eventID": record["eventID"],
        "sequenceNumber": record["dynamodb"]["SequenceNumber"],
        "orderId": "ORD-1001",
    }
    first = domain.record_source({"dynamodb": {"Keys": {"orderId": {"S": "A"}}}})
    second = domain.record_source({"dynamodb": {"Keys": {"orderId": {"S": "B"}}}})
    assert first["eventID"] is None
    assert first["recordSha256"] != second["recordSha256"]
    assert domain.record_source(["odd"])["orderId"] is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
ATTRIBUTE = st.one_of(
    JSON,
    st.builds(lambda v: {"S": v}, st.sampled_from(["pending", "shipped", "lost", ""]) | JSON),
    st.builds(lambda v: {"N": v}, st.sampled_from(["1", "-1", "NaN", "1e3", "x"]) | JSON),
)
IMAGE = st.one_of(
    JSON, st.dictionaries(st.sampled_from(["orderId", "status", "amount"]), ATTRIBUTE)
)
RECORD = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            "eventID": st.sampled_from(["e1", ""]) | JSON,
            "eventName": st.sampled_from(["INSERT", "MODIFY", "REMOVE"]) | JSON,
            "dynamodb": st.one_of(
                JSON,
                st.fixed_dictionaries(
                    {}, optional={"Keys": IMAGE, "NewImage": IMAGE, "OldImage": IMAGE}
                ),
            ),
        },
    ),
)


@settings(max_examples=300)
@given(RECORD)
def test_parse_record_never_raises(record: Any) -> None:
    outcome = domain.parse_record(record, KNOWN)
    if isinstance(outcome, Rejection):
        assert outcome.reason in domain.DEAD_LETTER_REASONS
        assert outcome.message
    else:
        assert outcome.amount.is_finite()
        assert outcome.amount >= 0
        assert outcome.new_status in KNOWN
    json.dumps(domain.record_source(record))


def test_settings_defaults() -> None:
    loaded = load_settings("premium", ENV)
    assert loaded.event_source == "orderflow.orders"
    assert loaded.known_statuses == KNOWN
    assert loaded.standard == STANDARD
    assert loaded.premium == PREMIUM
    assert loaded.pipeline_name == "premium"
    assert loaded.topic_arn == ENV["TOPIC_ARN"]
    assert load_settings("standard", {**ENV, "TOPIC_ARN": ""}).topic_arn is None


def test_settings_overrides() -> None:
    loaded = load_settings(
        "standard",
        {
            **ENV,
            "ACCEPTED_STATUSES": " shipped ,",
            "STANDARD_MIN_AMOUNT": "49.99",
            "TEST_EMAIL_DOMAINS": "@Test.com, *.qa.example.org.,",
            "PIPELINE_NAME": "orders-eu",
        },
    )
    assert loaded.standard == StandardRules(
        frozenset({"shipped"}), Decimal("49.99"), ("test.com", "qa.example.org")
    )
    assert loaded.pipeline_name == "orders-eu"


@pytest.mark.parametrize(
    ("flow", "overrides"),
    [
        ("premium", {"TOPIC_ARN": ""}),
        ("standard", {"EVENT_BUS_NAME": ""}),
        ("standard", {"DEAD_LETTER_QUEUE_URL": ""}),
        ("standard", {"IDEMPOTENCY_TABLE_NAME": " "}),
        ("standard", {"ACCEPTED_STATUSES": "pending,archived"}),
        ("standard", {"KNOWN_STATUSES": "pending|shipped"}),
        ("standard", {"KNOWN_STATUSES": ","}),
        ("standard", {"PREMIUM_TO_STATUS": "gone"}),
        ("standard", {"STANDARD_MIN_AMOUNT": "lots"}),
        ("standard", {"PREMIUM_MIN_AMOUNT": "-1"}),
        ("standard", {"PREMIUM_MIN_AMOUNT": "NaN"}),
        ("standard", {"TEST_EMAIL_DOMAINS": "a b.com"}),
    ],
)
def test_settings_errors(flow: Any, overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(flow, {**ENV, **overrides})
