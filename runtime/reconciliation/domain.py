"""Pure rules of late-record reconciliation: what a valid late record is and what it becomes.

Identity decision: a late record IS its `orderId`. The same order arriving late twice (a
re-sent event, a replay, an EventBridge redelivery with a new id) is one late record: the
first arrival is flagged and later ones are duplicates that change nothing. A duplicate
whose amount differs is reported as a conflict (logged, counted) but never applied, so a
day's aggregate can only ever count an order once. Correcting an already reconciled
amount is a different business operation, out of scope here.

An event's identity is its EventBridge `id`, or, for an event put on the bus again by
`orderflow_ops replay redrive --via bus` (EventBridge gives it a new id and a new `time`),
the `detail.originalEvent` the redrive carries over: `{"id", "time"}` of the first event.
Dead letters are named after that identity, so a failure of the first event and of its
redriven copy is one letter, with one id.

Nothing in this module performs I/O; the clock and the business time zone are passed in.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Final, Literal

from orderflow import aws_facts

LEDGER_PREFIX: Final = "LATE#"
DAY_PREFIX: Final = "DAY#"
FLAGGED: Final = "flagged"
RECONCILED: Final = "reconciled"
UNRECONCILABLE: Final = "unreconcilable"
"""An entry whose amount the day's total cannot take (DynamoDB's number limits): dead-lettered."""
PENDING: Final = "PENDING"
"""`pendingState` of entries the sweep must look at (the GSI is sparse on it)."""

ORIGINAL_EVENT: Final = "originalEvent"
"""Detail key a bus redrive adds: `{"id", "time"}` of the event it puts on the bus again."""
MAX_ORDER_ID_LENGTH: Final = 128
MAX_AMOUNT_TEXT_LENGTH: Final = 64
MAX_EVENT_TIME_LENGTH: Final = 64
# DynamoDB numbers: 38 significant digits, magnitude 1E-130 .. 9.99..E+125. Anything
# outside cannot be stored, so it is rejected here instead of failing the write.
DYNAMODB_MAX_DIGITS: Final = aws_facts.DYNAMODB_NUMBER_MAX_DIGITS.value
DYNAMODB_MAX_ADJUSTED: Final = Decimal(aws_facts.DYNAMODB_NUMBER_MAX_MAGNITUDE.value).adjusted()
DYNAMODB_MIN_ADJUSTED: Final = Decimal(aws_facts.DYNAMODB_NUMBER_MIN_MAGNITUDE.value).adjusted()
# Wide enough that normalising an accepted amount never rounds it.
_EXACT: Final = Context(prec=400)
# orderflow's own bound on one order's amount: below 10^15 with at most 6 decimal places
# (21 significant digits). A day's total of such amounts needs at most 21 + log10(orders)
# digits, far inside DynamoDB's 38 (10^17 orders in one day), so the aggregate's ADD cannot
# leave DynamoDB's range through any real data; reconcile still handles it if it does.
MAX_AMOUNT: Final = Decimal("1E+15")
MAX_AMOUNT_DECIMALS: Final = 6

RejectReason = Literal[
    "missing_order_id",
    "invalid_amount",
    "negative_amount",
    "malformed_detail",
    "invalid_event_time",
]
FlagStatus = Literal["flagged", "duplicate"]


@dataclass(frozen=True)
class Rejection:
    """Why an event cannot become a late record (machine-readable reason, human message)."""

    reason: RejectReason
    message: str


@dataclass(frozen=True)
class LateRecord:
    """A validated late record; `event_time` is timezone-aware UTC."""

    order_id: str
    amount: Decimal
    reason: str
    event_time: datetime
    event_id: str | None


@dataclass(frozen=True)
class LedgerEntry:
    """One `LATE#<orderId>` ledger item, as the handlers reason about it."""

    order_id: str
    amount: Decimal
    reason: str
    event_time: str
    business_day: str
    lateness_seconds: int
    status: str
    flagged_at: str
    first_seen_event_id: str | None = None
    pending_state: str | None = None
    pending_since: str | None = None
    reconciled_at: str | None = None
    event_pending: bool = False
    publish_lease_until: str | None = None
    publish_lease_id: str | None = None
    published_at: str | None = None

    @property
    def key(self) -> str:
        return ledger_key(self.order_id)

    @property
    def day_key(self) -> str:
        return DAY_PREFIX + self.business_day


def ledger_key(order_id: str) -> str:
    return LEDGER_PREFIX + order_id


def iso_ms(moment: datetime) -> str:
    """Fixed-width UTC (`2025-01-15T10:00:00.000Z`): sorts as text, so the GSI range works."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with a `Z`, keeping whatever sub-second precision the moment has."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_amount(amount: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros (`420.5`, `100`, `0`)."""
    return format(amount, "f")


class _Invalid(Exception):
    """Carries a Rejection out of the field parsers (the first problem found wins)."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.rejection = Rejection(reason, message)


def parse_amount(value: Any) -> Decimal | Rejection:
    """An amount is a finite number >= 0 (int, float or decimal string), kept as Decimal."""
    try:
        return _amount(value)
    except _Invalid as invalid:
        return invalid.rejection


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise _Invalid("invalid_amount", f"amount must be a number, got {_describe(value)}")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid("invalid_amount", f"amount must be finite, got {value!r}")
        return Decimal(repr(value))  # the shortest text that round-trips, e.g. 420.5
    if not isinstance(value, str):
        raise _Invalid("invalid_amount", f"amount must be a number, got {_describe(value)}")
    text = value.strip()
    if not text or len(text) > MAX_AMOUNT_TEXT_LENGTH:
        raise _Invalid("invalid_amount", "amount text is empty or too long")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _Invalid("invalid_amount", f"amount {text[:40]!r} is not a decimal number") from None


def _amount(value: Any) -> Decimal:
    number = _to_decimal(value)
    if not number.is_finite():
        raise _Invalid("invalid_amount", f"amount must be finite, got {number}")
    if number < 0:
        raise _Invalid("negative_amount", f"amount must not be negative, got {number}")
    if number.is_zero():
        return Decimal(0)
    if not DYNAMODB_MIN_ADJUSTED <= number.adjusted() <= DYNAMODB_MAX_ADJUSTED:
        raise _Invalid("invalid_amount", f"amount {number} is outside DynamoDB's number range")
    number = number.normalize(_EXACT)
    if len(number.as_tuple().digits) > DYNAMODB_MAX_DIGITS:
        raise _Invalid(
            "invalid_amount", f"amount has more than {DYNAMODB_MAX_DIGITS} significant digits"
        )
    if number >= MAX_AMOUNT:
        raise _Invalid(
            "invalid_amount", f"amount {number:.3E} is not below orderflow's bound {MAX_AMOUNT:E}"
        )
    if -number.as_tuple().exponent > MAX_AMOUNT_DECIMALS:  # type: ignore[operator]
        raise _Invalid(
            "invalid_amount", f"amount has more than {MAX_AMOUNT_DECIMALS} decimal places"
        )
    return number


def parse_event_time(value: Any) -> datetime | None:
    """ISO-8601 text to aware UTC; a time without offset is taken as UTC (as EventBridge's)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_EVENT_TIME_LENGTH:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_late_event(event: Any) -> LateRecord | Rejection:
    """Validate an EventBridge `late.record` event; the first problem found is the reason.

    Checked in this order: the detail object, orderId, amount, reason, event time.
    """
    try:
        if not isinstance(event, dict):
            raise _Invalid("malformed_detail", f"the event is {_describe(event)}, not an object")
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise _Invalid("malformed_detail", f"`detail` is {_describe(detail)}, not an object")
        order_id = _order_id(detail.get("orderId"))
        if "amount" not in detail:
            raise _Invalid("invalid_amount", "`amount` is missing")
        amount = _amount(detail["amount"])
        reason = _reason(detail.get("reason"))
        event_time = _event_time(event, detail)
    except _Invalid as invalid:
        return invalid.rejection
    return LateRecord(
        order_id=order_id,
        amount=amount,
        reason=reason,
        event_time=event_time,
        event_id=event_identity(event),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def original_event(event: Any) -> dict[str, Any]:
    """`detail.originalEvent` of a redriven event (`{}` for a first delivery)."""
    detail = event.get("detail") if isinstance(event, dict) else None
    original = detail.get(ORIGINAL_EVENT) if isinstance(detail, dict) else None
    return original if isinstance(original, dict) else {}


def event_identity(event: Any) -> str | None:
    """The first event's id: the redrive's `originalEvent.id`, else the event's own `id`."""
    own = _text(event.get("id")) if isinstance(event, dict) else None
    return _text(original_event(event).get("id")) or own


def _order_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(
            "missing_order_id", f"`orderId` must be a non-empty string, got {_describe(value)}"
        )
    if len(value) > MAX_ORDER_ID_LENGTH:
        raise _Invalid(
            "missing_order_id",
            f"`orderId` has {len(value)} characters, over the {MAX_ORDER_ID_LENGTH} limit",
        )
    return value


def _reason(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Invalid("malformed_detail", f"`reason` must be a string, got {_describe(value)}")
    return value


def _event_time(event: dict[str, Any], detail: dict[str, Any]) -> datetime:
    """`detail.eventTime` when present, else when the (first) event was put on the bus."""
    first_put = original_event(event).get("time")
    if detail.get("eventTime") is not None:
        raw, where = detail["eventTime"], "`detail.eventTime`"
    elif first_put is not None:
        raw, where = first_put, f"`detail.{ORIGINAL_EVENT}.time`"
    else:
        raw, where = event.get("time"), "the event's `time`"
    moment = parse_event_time(raw)
    if moment is None:
        raise _Invalid("invalid_event_time", f"{where} is not an ISO-8601 time: {_describe(raw)}")
    return moment


def business_day(moment: datetime, zone: tzinfo) -> str:
    """The calendar date of `moment` in the business time zone (what the aggregates count)."""
    return moment.astimezone(zone).date().isoformat()


def lateness_seconds(event_time: datetime, received_at: datetime) -> int:
    """Whole seconds between the event and its receipt; a clock-skewed future time counts 0."""
    return max(0, math.floor((received_at - event_time).total_seconds()))


def new_entry(record: LateRecord, *, received_at: datetime, zone: tzinfo) -> LedgerEntry:
    """The ledger entry a first arrival creates: flagged and visible to the sweep."""
    received = iso_ms(received_at)
    return LedgerEntry(
        order_id=record.order_id,
        amount=record.amount,
        reason=record.reason,
        event_time=iso_utc(record.event_time),
        business_day=business_day(record.event_time, zone),
        lateness_seconds=lateness_seconds(record.event_time, received_at),
        status=FLAGGED,
        flagged_at=received,
        first_seen_event_id=record.event_id,
        pending_state=PENDING,
        pending_since=received,
    )


def flag_result(entry: LedgerEntry, status: FlagStatus) -> dict[str, Any]:
    """FlagLateOrder's output and Reconcile's input (values are the STORED entry's)."""
    return {
        "status": status,
        "orderId": entry.order_id,
        "amount": format_amount(entry.amount),
        "businessDay": entry.business_day,
        "ledgerKey": entry.key,
        "eventTime": entry.event_time,
        "latenessSeconds": entry.lateness_seconds,
    }


def reconciled_detail(entry: LedgerEntry) -> dict[str, Any]:
    """`OrderReconciled` detail; consumers de-duplicate on `orderId` (delivery is at least once)."""
    return {
        "orderId": entry.order_id,
        "amount": format_amount(entry.amount),
        "businessDay": entry.business_day,
        "reason": entry.reason,
        "eventTime": entry.event_time,
        "reconciledAt": entry.reconciled_at,
        "latenessSeconds": entry.lateness_seconds,
    }


class InvalidReconcileInput(ValueError):
    """Reconcile was started with something that is not a flag result."""


def ledger_key_from(flag: Any) -> str:
    """The ledger key a flag result names; Reconcile trusts nothing else in its input."""
    if not isinstance(flag, dict):
        raise InvalidReconcileInput(f"reconcile input is {_describe(flag)}, not an object")
    if flag.get("status") == "rejected":
        raise InvalidReconcileInput("a rejected late record cannot be reconciled")
    key = flag.get("ledgerKey")
    order_id = flag.get("orderId")
    if isinstance(key, str) and key.startswith(LEDGER_PREFIX) and len(key) > len(LEDGER_PREFIX):
        if isinstance(order_id, str) and ledger_key(order_id) != key:
            raise InvalidReconcileInput(f"ledgerKey {key!r} does not match orderId {order_id!r}")
        return key
    if key is None and isinstance(order_id, str) and order_id.strip():
        return ledger_key(order_id)
    raise InvalidReconcileInput(f"reconcile input names no ledger entry: {_describe(key)}")


def rejection_source(event: Any) -> dict[str, Any]:
    """Dead-letter `source`: the event's identity; a content hash stands in for a missing id.

    A redriven event names the first event's id (`event_identity`), so its letter is the
    first one's letter again, not a second letter for the same event.
    """
    fields = event if isinstance(event, dict) else {}
    source: dict[str, Any] = {
        "eventId": event_identity(event),
        "source": fields.get("source"),
        "detailType": fields.get("detail-type"),
    }
    if not source["eventId"]:
        canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)
        source["contentSha256"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return source


def _describe(value: Any) -> str:
    if value is None:
        return "missing"
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
