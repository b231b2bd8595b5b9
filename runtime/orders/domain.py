"""Pure order rules of the PremiumOrderPipe: parse a stream record, decide, build the event.

No boto3 and no environment here: every result is a function of the arguments, so the
rules are tested exhaustively without AWS and the emulator can reuse them.

Money is `Decimal` parsed from the DynamoDB `N` string, never `float`: `float("100.01")`
compares correctly by luck, `1000.0000000000001` does not survive it, and the event carries
the amount as the exact string the table holds.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

# Bad data: no retry can fix it, so the record goes to the application dead-letter queue.
MALFORMED_RECORD: Final = "malformed_record"
REMOVE_EVENT: Final = "remove_event"
MISSING_NEW_IMAGE: Final = "missing_new_image"
MISSING_ORDER_ID: Final = "missing_order_id"
UNKNOWN_STATUS: Final = "unknown_status"
INVALID_AMOUNT: Final = "invalid_amount"
DEAD_LETTER_REASONS: Final = frozenset(
    {
        MALFORMED_RECORD,
        REMOVE_EVENT,
        MISSING_NEW_IMAGE,
        MISSING_ORDER_ID,
        UNKNOWN_STATUS,
        INVALID_AMOUNT,
    }
)

# Valid records that simply do not qualify: counted and logged, never dead-lettered.
TEST_CUSTOMER: Final = "test_customer"
BELOW_THRESHOLD: Final = "below_threshold"
STATUS_NOT_ACCEPTED: Final = "status_not_accepted"
NOT_PREMIUM_TRANSITION: Final = "not_premium_transition"
SKIP_REASONS: Final = frozenset(
    {TEST_CUSTOMER, BELOW_THRESHOLD, STATUS_NOT_ACCEPTED, NOT_PREMIUM_TRANSITION}
)

ORDER_ACCEPTED: Final = "OrderAccepted"
PREMIUM_ORDER_SHIPPED: Final = "PremiumOrderShipped"

INSERT: Final = "INSERT"
MODIFY: Final = "MODIFY"
REMOVE: Final = "REMOVE"
STREAM_EVENT_NAMES: Final = frozenset({INSERT, MODIFY, REMOVE})

# The DynamoDB number grammar. `Decimal()` alone is too lenient: it takes "NaN",
# "Infinity", "1_000" and surrounding whitespace, none of which DynamoDB ever emits.
_NUMBER: Final = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_SHOW_CHARS: Final = 120
_SUBJECT_CHARS: Final = 99
# SNS FIFO MessageGroupId: 1-128 characters of alphanumerics and ASCII punctuation.
_FIFO_GROUP_ID: Final = re.compile(r"[!-~]{1,128}")


@dataclass(frozen=True)
class OrderChange:
    """One INSERT or MODIFY of an order, with the fields the rules read."""

    order_id: str
    event_name: str
    new_status: str
    old_status: str | None
    amount: Decimal
    customer_email: str | None
    event_id: str
    sequence_number: str | None
    event_source_arn: str | None


@dataclass(frozen=True)
class Rejection:
    """Why a record is bad data: machine-readable `reason`, human `message`."""

    reason: str
    message: str


@dataclass(frozen=True)
class Skip:
    """A valid change that does not qualify for an event, and why."""

    reason: str
    message: str


@dataclass(frozen=True)
class Publish:
    """A change that must produce `detail_type`; its effects run once per `idempotency_key`
    (barring a crash between an effect and its idempotency record: see `domain_event_id`)."""

    detail_type: str
    change: OrderChange
    idempotency_key: str


@dataclass(frozen=True)
class StandardRules:
    """Pipe 1: accepted status, real customer, amount strictly above `min_amount`."""

    accepted_statuses: frozenset[str]
    min_amount: Decimal
    test_email_domains: tuple[str, ...]


@dataclass(frozen=True)
class PremiumRules:
    """Pipe 2: `from_status` -> `to_status`, real customer, amount above `min_amount`."""

    from_status: str
    to_status: str
    min_amount: Decimal
    test_email_domains: tuple[str, ...]


@dataclass(frozen=True)
class Notification:
    """An SNS message for a premium order (Subject obeys SNS's ASCII/length rules)."""

    subject: str
    message: str
    attributes: dict[str, str]
    group_id: str
    deduplication_id: str


def _show(value: Any) -> str:
    """A bounded repr for messages: a 400 KB attribute must not become a 400 KB message."""
    text = repr(value)
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 3] + "..."


def _typed(attribute: Any, type_key: str) -> Any:
    """The value of a DynamoDB attribute `{type_key: value}`, or None for any other shape."""
    if isinstance(attribute, Mapping) and type_key in attribute:
        return attribute[type_key]
    return None


def _string_attribute(image: Mapping[str, Any] | None, name: str) -> str | None:
    """A non-empty `S` attribute of an image, or None."""
    if image is None:
        return None
    value = _typed(image.get(name), "S")
    return value if isinstance(value, str) and value else None


def _order_id(
    dynamodb: Mapping[str, Any], parts: tuple[str, ...] = ("Keys", "NewImage")
) -> str | None:
    """The key is authoritative; the images are a fallback for hand-written records."""
    for part in parts:
        image = dynamodb.get(part)
        if isinstance(image, Mapping):
            order_id = _string_attribute(image, "orderId")
            if order_id is not None:
                return order_id
    return None


def _status(image: Mapping[str, Any], which: str, known: frozenset[str]) -> str | Rejection | None:
    """A known `S` status, None when the image has none, or why it is unusable."""
    attribute = image.get("status")
    if attribute is None:
        return None
    value = _typed(attribute, "S")
    if not isinstance(value, str):
        return Rejection(
            UNKNOWN_STATUS,
            f'{which}.status must be a string attribute {{"S": ...}}, got {_show(attribute)}',
        )
    if value not in known:
        return Rejection(
            UNKNOWN_STATUS, f"{which}.status {_show(value)} is not one of {sorted(known)}"
        )
    return value


def parse_amount(attribute: Any) -> Decimal | Rejection:
    """A finite, non-negative Decimal from `{"N": "..."}`; anything else is `invalid_amount`."""
    if attribute is None:
        return Rejection(INVALID_AMOUNT, "NewImage has no amount attribute")
    text = _typed(attribute, "N")
    if not isinstance(text, str):
        return Rejection(
            INVALID_AMOUNT,
            f'amount must be a number attribute {{"N": "..."}}, got {_show(attribute)}',
        )
    if not _NUMBER.fullmatch(text):
        return Rejection(INVALID_AMOUNT, f"amount {_show(text)} is not a finite decimal number")
    try:
        amount = Decimal(text)
    except InvalidOperation:  # grammatical, but an exponent beyond Decimal's range
        return Rejection(INVALID_AMOUNT, f"amount {_show(text)} is out of range")
    if amount < 0:
        return Rejection(INVALID_AMOUNT, f"amount {text} is negative")
    # "-0" is zero, not a refund: drop the sign so events never say "-0".
    return abs(amount) if amount.is_zero() else amount


def _envelope_rejection(record: Any) -> Rejection | None:
    """Is this a stream record at all, and one with new order state?"""
    if not isinstance(record, Mapping):
        return Rejection(
            MALFORMED_RECORD, f"a stream record must be an object, got {_show(record)}"
        )
    event_id = record.get("eventID")
    if not isinstance(event_id, str) or not event_id:
        return Rejection(MALFORMED_RECORD, "the record has no eventID string")
    event_name = record.get("eventName")
    if not isinstance(event_name, str) or event_name not in STREAM_EVENT_NAMES:
        return Rejection(
            MALFORMED_RECORD,
            f"eventName {_show(event_name)} is not one of {sorted(STREAM_EVENT_NAMES)}",
        )
    if not isinstance(record.get("dynamodb"), Mapping):
        return Rejection(MALFORMED_RECORD, "the record has no `dynamodb` object")
    if event_name == REMOVE:
        return Rejection(REMOVE_EVENT, "REMOVE events carry no new order state to process")
    return None


def _statuses(
    new_image: Mapping[str, Any], old_image: Any, known: frozenset[str]
) -> tuple[str, str | None] | Rejection:
    """(new, old) statuses; the new one is required, the old one only checked if present."""
    if old_image is not None and not isinstance(old_image, Mapping):
        return Rejection(MALFORMED_RECORD, f"OldImage must be an object, got {_show(old_image)}")
    new_status = _status(new_image, "NewImage", known)
    if new_status is None:
        return Rejection(UNKNOWN_STATUS, "NewImage has no status attribute")
    if isinstance(new_status, Rejection):
        return new_status
    old_status = _status(old_image, "OldImage", known) if old_image else None
    if isinstance(old_status, Rejection):
        return old_status
    return new_status, old_status


def parse_record(record: Any, known_statuses: frozenset[str]) -> OrderChange | Rejection:
    """Read one Pipes stream record; every way it can be bad maps to one reason."""
    rejection = _envelope_rejection(record)
    if rejection is not None:
        return rejection
    dynamodb: Mapping[str, Any] = record["dynamodb"]
    new_image = dynamodb.get("NewImage")
    if not isinstance(new_image, Mapping):
        return Rejection(
            MISSING_NEW_IMAGE,
            f"{record['eventName']} record has no NewImage (the stream must use "
            "NEW_AND_OLD_IMAGES)",
        )
    order_id = _order_id(dynamodb)
    if order_id is None:
        return Rejection(MISSING_ORDER_ID, "neither Keys nor NewImage has an orderId string")
    statuses = _statuses(new_image, dynamodb.get("OldImage"), known_statuses)
    if isinstance(statuses, Rejection):
        return statuses
    amount = parse_amount(new_image.get("amount"))
    if isinstance(amount, Rejection):
        return amount

    sequence_number = dynamodb.get("SequenceNumber")
    source_arn = record.get("eventSourceARN")
    return OrderChange(
        order_id=order_id,
        event_name=record["eventName"],
        new_status=statuses[0],
        old_status=statuses[1],
        amount=amount,
        customer_email=_string_attribute(new_image, "customerEmail"),
        event_id=record["eventID"],
        sequence_number=sequence_number if isinstance(sequence_number, str) else None,
        event_source_arn=source_arn if isinstance(source_arn, str) else None,
    )


def canonical_json(value: Any) -> str:
    """Sorted, compact, ASCII JSON: stable bytes for hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def record_source(record: Any) -> dict[str, Any]:
    """Dead-letter `source`: the stream position of a record, as far as it can be read.

    The dead-letter id hashes this, so it must differ per record: `eventID` is unique per
    stream record, and a record without one gets `recordSha256` (of its canonical JSON)
    so two different malformed records never share an id.
    """
    mapping = record if isinstance(record, Mapping) else {}
    dynamodb = mapping.get("dynamodb")
    dynamodb = dynamodb if isinstance(dynamodb, Mapping) else {}

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    source: dict[str, Any] = {
        "eventSourceARN": text(mapping.get("eventSourceARN")),
        "eventID": text(mapping.get("eventID")),
        "sequenceNumber": text(dynamodb.get("SequenceNumber")),
        "orderId": _order_id(dynamodb, ("Keys", "NewImage", "OldImage")),
    }
    if source["eventID"] is None:
        digest = hashlib.sha256(canonical_json(record).encode("ascii")).hexdigest()
        source["recordSha256"] = digest
    return source


def normalise_domain(domain: str) -> str:
    """`@Test.COM.` and `*.test.com` name the same domain as `test.com`."""
    return domain.strip().lstrip("*@.").rstrip(".").lower()


def email_domain(email: str | None) -> str | None:
    """The normalised part after the last `@`, or None when there is none."""
    if not email or "@" not in email:
        return None
    return normalise_domain(email.strip().rsplit("@", 1)[1]) or None


def is_test_email(email: str | None, test_domains: Iterable[str]) -> bool:
    """True when the email's domain is a test domain or a subdomain of one (any case).

    This is what the seed's `{"anything-but": "*test.com*"}` filter meant; Pipes cannot
    express it (no wildcard inside anything-but), so the Lambda decides. Only the part
    after the last `@` counts: `test.com@example.com` is a real customer.
    """
    domain = email_domain(email)
    if domain is None:
        return False
    return any(domain == test or domain.endswith("." + test) for test in test_domains)


def _test_customer(change: OrderChange) -> Skip:
    # The domain, not the address: skip messages end up in logs, which must not hold PII.
    return Skip(
        TEST_CUSTOMER,
        f"the customer's email domain {email_domain(change.customer_email)!r} is a test domain",
    )


def idempotency_key(detail_type: str, change: OrderChange) -> str:
    """sha256 of `<detailType>|<orderId>|<oldStatus or ''>|<newStatus>`.

    One key per order and transition, not per stream record: a redelivered record and a
    second record with the same transition both map here. Statuses never contain `|`
    (config enforces it), so the rightmost fields parse unambiguously whatever the orderId.
    """
    text = f"{detail_type}|{change.order_id}|{change.old_status or ''}|{change.new_status}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def domain_event_id(idempotency_key: str) -> str:
    """The domain event's own id (a UUID): the same for every publish of one transition.

    Delivery is at least once. Effects run once per transition under an idempotency
    record, but a crash after PutEvents and before that record is saved publishes the event
    again on the retry, and EventBridge does not deduplicate; it gives each put a new
    envelope `id`. `detail.eventId` does not change, so consumers deduplicate on it.
    """
    digest = hashlib.sha256(f"orderflow.domain-event|{idempotency_key}".encode("ascii")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def _publish(detail_type: str, change: OrderChange) -> Publish:
    return Publish(detail_type, change, idempotency_key(detail_type, change))


def decide_standard(change: OrderChange, rules: StandardRules) -> Publish | Skip:
    """OrderAccepted for a real customer's order in an accepted status above the minimum."""
    if change.new_status not in rules.accepted_statuses:
        return Skip(
            STATUS_NOT_ACCEPTED,
            f"status {change.new_status!r} is not one of {sorted(rules.accepted_statuses)}",
        )
    if is_test_email(change.customer_email, rules.test_email_domains):
        return _test_customer(change)
    if not change.amount > rules.min_amount:
        return Skip(BELOW_THRESHOLD, f"amount {change.amount} is not above {rules.min_amount}")
    return _publish(ORDER_ACCEPTED, change)


def decide_premium(change: OrderChange, rules: PremiumRules) -> Publish | Skip:
    """PremiumOrderShipped for a real customer's high-value order moving from -> to."""
    transition = (change.event_name, change.old_status, change.new_status)
    if transition != (MODIFY, rules.from_status, rules.to_status):
        return Skip(
            NOT_PREMIUM_TRANSITION,
            f"{change.event_name} {change.old_status!r} -> {change.new_status!r} is not "
            f"MODIFY {rules.from_status!r} -> {rules.to_status!r}",
        )
    if is_test_email(change.customer_email, rules.test_email_domains):
        return _test_customer(change)
    if not change.amount > rules.min_amount:
        return Skip(BELOW_THRESHOLD, f"amount {change.amount} is not above {rules.min_amount}")
    return _publish(PREMIUM_ORDER_SHIPPED, change)


def event_detail(decision: Publish) -> dict[str, Any]:
    """The event's Detail; `amount` is the Decimal's string so no consumer sees a float.

    `eventId` (see `domain_event_id`) is what consumers deduplicate on, not the envelope id.
    """
    change = decision.change
    return {
        "eventId": domain_event_id(decision.idempotency_key),
        "orderId": change.order_id,
        "status": change.new_status,
        "previousStatus": change.old_status,
        "amount": str(change.amount),
        "customerEmail": change.customer_email,
        "eventName": change.event_name,
        "sourceEventId": change.event_id,
        "idempotencyKey": decision.idempotency_key,
    }


def event_entry(decision: Publish, *, source: str, event_bus_name: str) -> dict[str, str]:
    """One PutEvents entry for the decision."""
    return {
        "Source": source,
        "DetailType": decision.detail_type,
        "Detail": json.dumps(event_detail(decision), separators=(",", ":")),
        "EventBusName": event_bus_name,
    }


def _ascii_subject(text: str) -> str:
    """SNS subjects must be printable ASCII without line breaks and under 100 characters."""
    cleaned = "".join(char if " " <= char <= "~" else "?" for char in text)
    return cleaned[:_SUBJECT_CHARS]


def notification(decision: Publish) -> Notification:
    """The SNS message for a premium order: the event detail as JSON, plus a readable subject.

    Group and deduplication ids are only sent to FIFO topics (see publisher).
    """
    change = decision.change
    detail = {"detailType": decision.detail_type, **event_detail(decision)}
    return Notification(
        subject=_ascii_subject(f"Premium order {change.order_id} shipped ({change.amount})"),
        message=json.dumps(detail, separators=(",", ":")),
        attributes={
            "detailType": decision.detail_type,
            "orderId": change.order_id,
            "idempotencyKey": decision.idempotency_key,
            "eventId": domain_event_id(decision.idempotency_key),
        },
        group_id=(
            change.order_id
            if _FIFO_GROUP_ID.fullmatch(change.order_id)
            else hashlib.sha256(change.order_id.encode("utf-8")).hexdigest()
        ),
        deduplication_id=decision.idempotency_key,
    )
