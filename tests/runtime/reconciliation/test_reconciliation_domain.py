"""The pure rules: validation of late-record events, amounts, times and business days."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from reconciliation_support import NOW, SEED_DETAIL, late_event

from runtime.reconciliation import domain
from runtime.reconciliation.domain import LateRecord, Rejection
from runtime.reconciliation.handler import ConfigurationError, load_settings


def accepted(event: Any) -> LateRecord:
    record = domain.parse_late_event(event)
    assert isinstance(record, LateRecord), record
    return record


def rejected(event: Any) -> Rejection:
    record = domain.parse_late_event(event)
    assert isinstance(record, Rejection), record
    return record


def test_the_seed_event_is_a_late_record() -> None:
    record = accepted(late_event())
    assert record.order_id == "A1080"
    assert record.amount == Decimal("420.5")
    assert record.reason == "arrived_after_cutoff"
    assert record.event_time == datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
    assert record.event_id == "0d9c8b7a-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (420.5, "420.5"),
        (0.1, "0.1"),
        (7, "7"),
        (0, "0"),
        (-0.0, "0"),
        ("420.50", "420.5"),
        (" 12.30 ", "12.3"),
        ("1E+2", "100"),
        (Decimal("99.990"), "99.99"),
        ("999999999999999.999999", "999999999999999.999999"),  # the largest amount accepted
        ("0.000001", "0.000001"),
    ],
)
def test_amounts_are_kept_exactly_as_decimals(amount: Any, expected: str) -> None:
    parsed = domain.parse_amount(amount)
    assert isinstance(parsed, Decimal)
    assert domain.format_amount(parsed) == expected


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (-1, "negative_amount"),
        (-0.01, "negative_amount"),
        ("-5", "negative_amount"),
        (math.nan, "invalid_amount"),
        (math.inf, "invalid_amount"),
        ("NaN", "invalid_amount"),
        ("Infinity", "invalid_amount"),
        ("-Infinity", "invalid_amount"),
        ("sNaN", "invalid_amount"),
        (True, "invalid_amount"),
        (False, "invalid_amount"),
        (None, "invalid_amount"),
        ("", "invalid_amount"),
        ("abc", "invalid_amount"),
        ("4 20", "invalid_amount"),
        ([420.5], "invalid_amount"),
        ({"value": 1}, "invalid_amount"),
        ("1" * 65, "invalid_amount"),
        ("1E+200", "invalid_amount"),
        (1e-200, "invalid_amount"),
        ("1.000000000000000000000000000000000000001", "invalid_amount"),
        # orderflow's bound (domain.MAX_AMOUNT, MAX_AMOUNT_DECIMALS): DynamoDB could hold
        # these, but a day's total of them could leave its 38 digits.
        ("9e125", "invalid_amount"),
        ("1E+15", "invalid_amount"),
        ("12345678901234567890.123456789012345678", "invalid_amount"),
        ("0.0000001", "invalid_amount"),
    ],
)
def test_bad_amounts_have_a_reason(amount: Any, reason: str) -> None:
    parsed = domain.parse_amount(amount)
    assert isinstance(parsed, Rejection)
    assert parsed.reason == reason
    assert parsed.message


BAD_EVENTS: list[tuple[str, Any, str]] = [
    ("not an object", "late.record", "malformed_detail"),
    ("no detail", {k: v for k, v in late_event().items() if k != "detail"}, "malformed_detail"),
    ("detail is a string", late_event('{"orderId": "A1"}'), "malformed_detail"),
    ("detail is a list", late_event([SEED_DETAIL]), "malformed_detail"),
    ("no orderId", late_event({"amount": 1}), "missing_order_id"),
    ("empty orderId", late_event({"orderId": "", "amount": 1}), "missing_order_id"),
    ("blank orderId", late_event({"orderId": "  ", "amount": 1}), "missing_order_id"),
    ("numeric orderId", late_event({"orderId": 1080, "amount": 1}), "missing_order_id"),
    ("long orderId", late_event({"orderId": "x" * 129, "amount": 1}), "missing_order_id"),
    ("no amount", late_event({"orderId": "A1"}), "invalid_amount"),
    ("text amount", late_event({"orderId": "A1", "amount": "lots"}), "invalid_amount"),
    ("negative amount", late_event({"orderId": "A1", "amount": -420.5}), "negative_amount"),
    (
        "reason not text",
        late_event({"orderId": "A1", "amount": 1, "reason": 5}),
        "malformed_detail",
    ),
    (
        "bad eventTime",
        late_event({"orderId": "A1", "amount": 1, "eventTime": "yesterday"}),
        "invalid_event_time",
    ),
    (
        "eventTime not text",
        late_event({"orderId": "A1", "amount": 1, "eventTime": 1736935200}),
        "invalid_event_time",
    ),
    ("no time at all", late_event({"orderId": "A1", "amount": 1}, time=None), "invalid_event_time"),
    (
        "bad envelope time",
        late_event({"orderId": "A1", "amount": 1}, time="soon"),
        "invalid_event_time",
    ),
]


@pytest.mark.parametrize(
    ("event", "reason"), [(e, r) for _, e, r in BAD_EVENTS], ids=[n for n, _, _ in BAD_EVENTS]
)
def test_bad_events_are_rejected_with_a_reason(event: Any, reason: str) -> None:
    rejection = rejected(event)
    assert rejection.reason == reason
    assert rejection.message


def test_the_first_problem_wins() -> None:
    assert rejected(late_event({"amount": -1, "eventTime": "x"})).reason == "missing_order_id"
    assert rejected(late_event({"orderId": "A1", "amount": -1}, time=None)).reason == (
        "negative_amount"
    )


def test_reason_is_optional_and_null_means_empty() -> None:
    assert accepted(late_event({"orderId": "A1", "amount": 1})).reason == ""
    assert accepted(late_event({"orderId": "A1", "amount": 1, "reason": None})).reason == ""


def test_detail_event_time_wins_over_the_envelope_time() -> None:
    record = accepted(
        late_event({"orderId": "A1", "amount": 1, "eventTime": "2025-01-14T23:30:00-05:00"})
    )
    assert record.event_time == datetime(2025, 1, 15, 4, 30, tzinfo=UTC)


def test_a_time_without_offset_is_utc() -> None:
    assert domain.parse_event_time("2025-01-15T10:00:00") == datetime(2025, 1, 15, 10, tzinfo=UTC)
    assert domain.parse_event_time("2025-01-15T10:00:00.250Z") == datetime(
        2025, 1, 15, 10, 0, 0, 250_000, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["", "  ", "2025-13-01T00:00:00Z", "0001-01-01T00:00:00+01:00"])
def test_unusable_times_are_none(text: str) -> None:
    assert domain.parse_event_time(text) is None


@pytest.mark.parametrize(
    ("zone", "moment", "day"),
    [
        ("UTC", "2025-01-15T05:30:00Z", "2025-01-15"),
        ("America/Los_Angeles", "2025-01-15T05:30:00Z", "2025-01-14"),
        ("Asia/Tokyo", "2025-01-14T20:00:00Z", "2025-01-15"),
        # The spring-forward day in New York is still one calendar day.
        ("America/New_York", "2025-03-09T06:59:59Z", "2025-03-09"),
        ("America/New_York", "2025-03-09T04:59:59Z", "2025-03-08"),
    ],
)
def test_business_day_is_the_calendar_date_in_the_business_zone(
    zone: str, moment: str, day: str
) -> None:
    parsed = domain.parse_event_time(moment)
    assert parsed is not None
    assert domain.business_day(parsed, ZoneInfo(zone)) == day


def test_lateness_is_whole_seconds_and_never_negative() -> None:
    event_time = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)
    assert domain.lateness_seconds(event_time, NOW) == 300
    assert domain.lateness_seconds(NOW, event_time) == 0


def test_iso_ms_sorts_as_time() -> None:
    early = domain.iso_ms(datetime(2025, 1, 15, 9, 59, 59, 999_999, tzinfo=UTC))
    late = domain.iso_ms(datetime(2025, 1, 15, 10, 0, tzinfo=UTC))
    assert early == "2025-01-15T09:59:59.999Z"
    assert late == "2025-01-15T10:00:00.000Z"
    assert early < late


def test_new_entry_and_flag_result() -> None:
    entry = domain.new_entry(accepted(late_event()), received_at=NOW, zone=UTC)
    assert entry.key == "LATE#A1080"
    assert entry.day_key == "DAY#2025-01-15"
    assert entry.pending_state == "PENDING"
    assert entry.pending_since == entry.flagged_at == "2025-01-15T10:05:00.000Z"
    assert domain.flag_result(entry, "flagged") == {
        "status": "flagged",
        "orderId": "A1080",
        "amount": "420.5",
        "businessDay": "2025-01-15",
        "ledgerKey": "LATE#A1080",
        "eventTime": "2025-01-15T10:00:00Z",
        "latenessSeconds": 300,
    }


@pytest.mark.parametrize(
    "flag",
    [
        None,
        "LATE#A1",
        {"status": "rejected", "reason": "negative_amount"},
        {"ledgerKey": "DAY#2025-01-15"},
        {"ledgerKey": "LATE#"},
        {"ledgerKey": "LATE#A1", "orderId": "A2"},
        {},
    ],
)
def test_reconcile_refuses_input_that_is_not_a_flag_result(flag: Any) -> None:
    with pytest.raises(domain.InvalidReconcileInput):
        domain.ledger_key_from(flag)


def test_reconcile_input_names_its_ledger_entry() -> None:
    assert domain.ledger_key_from({"ledgerKey": "LATE#A1", "orderId": "A1"}) == "LATE#A1"
    assert domain.ledger_key_from({"orderId": "A1"}) == "LATE#A1"


def test_rejection_source_uses_the_event_id_or_a_content_hash() -> None:
    assert domain.rejection_source(late_event(event_id="e-1")) == {
        "eventId": "e-1",
        "source": "orders.data",
        "detailType": "late.record",
    }
    without_id = {k: v for k, v in late_event().items() if k != "id"}
    first = domain.rejection_source(without_id)
    assert first["eventId"] is None
    assert first == domain.rejection_source(dict(reversed(list(without_id.items()))))
    other = {**without_id, "detail": {"orderId": "A2", "amount": -1}}
    assert domain.rejection_source(other)["contentSha256"] != first["contentSha256"]


def test_settings_defaults_and_errors() -> None:
    settings = load_settings({"LEDGER_TABLE_NAME": "ledger"})
    assert settings.index_name == "pending"
    assert settings.bus_name == "default"
    assert settings.sweep_threshold_seconds == 900
    assert settings.business_zone is UTC
    assert settings.pipeline == "late-data"
    assert load_settings({"LEDGER_TABLE_NAME": "l", "BUSINESS_TIMEZONE": "Europe/Paris"})
    with pytest.raises(ConfigurationError, match="LEDGER_TABLE_NAME"):
        load_settings({})
    with pytest.raises(ConfigurationError, match="BUSINESS_TIMEZONE"):
        load_settings({"LEDGER_TABLE_NAME": "l", "BUSINESS_TIMEZONE": "Mars/Olympus"})
    with pytest.raises(ConfigurationError, match="SWEEP_THRESHOLD_SECONDS"):
        load_settings({"LEDGER_TABLE_NAME": "l", "SWEEP_THRESHOLD_SECONDS": "soon"})
