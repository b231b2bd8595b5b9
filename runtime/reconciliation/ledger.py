"""DynamoDB access for the ledger table: `LATE#<orderId>` entries and `DAY#<date>` aggregates.

Every write is conditional, so the at-least-once workflow can repeat any step:
  flag            PutItem if the entry does not exist (a duplicate changes nothing)
  reconcile       one TransactWriteItems: entry flagged -> reconciled AND the day's ADDs
  claim_publish   take a short publish lease on an entry whose event is still pending
  mark_published  clear the outbox flag (and leave the sweep's index) once published

Outbox: the transaction sets `eventPending` and keeps the entry in the sparse `pending`
index (with `pendingSince` reset to the reconciliation time) until `mark_published`
removes it. A Lambda that dies between the transaction and PutEvents therefore still
leaves the entry where the sweep finds it. The lease stops a concurrent duplicate run
from publishing the same event while the first run is still publishing.

IAM: GetItem, PutItem, UpdateItem, TransactWriteItems (two Updates, authorised as
UpdateItem per item) on the table and Query on the pending index; nothing else.
Errors are recognised by their code, without importing botocore, so importing this
module stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final

from runtime.common import clients
from runtime.common.retry import RetryPolicy
from runtime.reconciliation.domain import (
    FLAGGED,
    PENDING,
    RECONCILED,
    UNRECONCILABLE,
    LedgerEntry,
    format_amount,
)

Item = dict[str, dict[str, Any]]

CONDITION_FAILED: Final = "ConditionalCheckFailedException"
TRANSACTION_CANCELED: Final = "TransactionCanceledException"
# A transaction item DynamoDB refused to store (the day total out of range, for one).
VALIDATION_ERROR: Final = "ValidationError"
# Cancellation reasons worth another attempt: contention and capacity, not data.
RETRYABLE_CANCELLATIONS: Final = frozenset(
    {
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)
# Errors botocore already retried (standard mode) that may still clear after a pause.
RETRYABLE_ERRORS: Final = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
    }
)


class LedgerError(RuntimeError):
    """The ledger is not in a state the handlers can work with."""


class LedgerEntryMissing(LedgerError):
    """Reconcile named an entry FlagLateOrder never wrote."""


class TransactionRetriesExhausted(LedgerError):
    """The reconcile transaction kept conflicting or being throttled; the step must retry."""


class DayTotalUnstorable(LedgerError):
    """DynamoDB refused the day's new total (out of its number range or 38 digits).

    Retrying can never succeed: the entry must leave the ledger's pending work with a
    reason instead (the handler dead-letters it).
    """


@dataclass(frozen=True)
class Lease:
    """A publish claim: only its holder publishes until `until` passes."""

    lease_id: str
    until: str


@dataclass(frozen=True)
class ReconcileAttempt:
    """What the transaction did: `applied`, and the entry as it now stands (None: no entry)."""

    applied: bool
    entry: LedgerEntry | None


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (None for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def to_item(entry: LedgerEntry) -> Item:
    """The DynamoDB item of an entry (optional attributes only when set)."""
    item: Item = {
        "pk": {"S": entry.key},
        "orderId": {"S": entry.order_id},
        "amount": {"N": format_amount(entry.amount)},
        "reason": {"S": entry.reason},
        "eventTime": {"S": entry.event_time},
        "businessDay": {"S": entry.business_day},
        "latenessSeconds": {"N": str(entry.lateness_seconds)},
        "status": {"S": entry.status},
        "flaggedAt": {"S": entry.flagged_at},
    }
    optional = {
        "firstSeenEventId": entry.first_seen_event_id,
        "pendingState": entry.pending_state,
        "pendingSince": entry.pending_since,
        "reconciledAt": entry.reconciled_at,
        "publishLeaseUntil": entry.publish_lease_until,
        "publishLeaseId": entry.publish_lease_id,
        "publishedAt": entry.published_at,
    }
    item.update({name: {"S": value} for name, value in optional.items() if value is not None})
    if entry.event_pending:
        item["eventPending"] = {"BOOL": True}
    return item


def from_item(item: Item) -> LedgerEntry:
    """The entry an item holds; raises LedgerError for an item that is not a ledger entry."""

    def text(name: str) -> str | None:
        value = item.get(name)
        return str(value["S"]) if value and "S" in value else None

    try:
        return LedgerEntry(
            order_id=str(item["orderId"]["S"]),
            amount=Decimal(item["amount"]["N"]),
            reason=text("reason") or "",
            event_time=str(item["eventTime"]["S"]),
            business_day=str(item["businessDay"]["S"]),
            lateness_seconds=int(item["latenessSeconds"]["N"]),
            status=str(item["status"]["S"]),
            flagged_at=text("flaggedAt") or "",
            first_seen_event_id=text("firstSeenEventId"),
            pending_state=text("pendingState"),
            pending_since=text("pendingSince"),
            reconciled_at=text("reconciledAt"),
            event_pending=bool(item.get("eventPending", {}).get("BOOL", False)),
            publish_lease_until=text("publishLeaseUntil"),
            publish_lease_id=text("publishLeaseId"),
            published_at=text("publishedAt"),
        )
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise LedgerError(
            f"ledger item {item.get('pk')} is not a late-record entry: {exc}"
        ) from exc


class Ledger:
    """The ledger table; the client is injectable (tests wrap it to simulate failures)."""

    def __init__(
        self,
        table_name: str,
        *,
        index_name: str = "pending",
        dynamodb: Any = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not table_name:
            raise ValueError("a ledger table name is required")
        self.table_name = table_name
        self.index_name = index_name
        self._dynamodb = dynamodb
        self.policy = policy if policy is not None else RetryPolicy(max_attempts=4)

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            self._dynamodb = clients.client("dynamodb")
        return self._dynamodb

    def get(self, key: str) -> LedgerEntry | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key={"pk": {"S": key}}, ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def flag(self, entry: LedgerEntry) -> tuple[bool, LedgerEntry]:
        """Create the entry unless it exists; returns (created, the entry as stored)."""
        try:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item=to_item(entry),
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            old = getattr(exc, "response", {}).get("Item")
            stored = from_item(old) if old else self.get(entry.key)
            if stored is None:  # deleted between the two calls: nothing sane to report
                raise LedgerError(f"{entry.key} exists and vanished at once") from exc
            return False, stored
        return True, entry

    def reconcile(
        self, entry: LedgerEntry, *, reconciled_at: str, lease: Lease
    ) -> ReconcileAttempt:
        """Flagged -> reconciled plus the day's ADDs, atomically; retried on contention.

        The amount and day come from `entry`, which must be the stored entry: the
        condition on `status` guarantees the ADD happens at most once per order.
        """
        request = {
            "TransactItems": [
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": {"pk": {"S": entry.key}},
                        "UpdateExpression": (
                            "SET #status = :reconciled, #reconciledAt = :at, "
                            "#eventPending = :true, #pendingState = :pending, "
                            "#pendingSince = :at, #leaseUntil = :leaseUntil, #leaseId = :leaseId"
                        ),
                        "ConditionExpression": "#status = :flagged",
                        "ExpressionAttributeNames": {
                            "#status": "status",
                            "#reconciledAt": "reconciledAt",
                            "#eventPending": "eventPending",
                            "#pendingState": "pendingState",
                            "#pendingSince": "pendingSince",
                            "#leaseUntil": "publishLeaseUntil",
                            "#leaseId": "publishLeaseId",
                        },
                        "ExpressionAttributeValues": {
                            ":reconciled": {"S": RECONCILED},
                            ":flagged": {"S": FLAGGED},
                            ":at": {"S": reconciled_at},
                            ":true": {"BOOL": True},
                            ":pending": {"S": PENDING},
                            ":leaseUntil": {"S": lease.until},
                            ":leaseId": {"S": lease.lease_id},
                        },
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": {"pk": {"S": entry.day_key}},
                        "UpdateExpression": (
                            "ADD #orderCount :one, #amount :amount, #lateOrderCount :one"
                        ),
                        "ExpressionAttributeNames": {
                            "#orderCount": "orderCount",
                            "#amount": "amount",
                            "#lateOrderCount": "lateOrderCount",
                        },
                        "ExpressionAttributeValues": {
                            ":one": {"N": "1"},
                            ":amount": {"N": format_amount(entry.amount)},
                        },
                    }
                },
            ]
        }
        last: BaseException | None = None
        for attempt in range(self.policy.max_attempts):
            if attempt:
                self.policy.sleep(self.policy.delay(attempt - 1))
            try:
                self.dynamodb.transact_write_items(**request)
            except Exception as exc:
                code = error_code(exc)
                if code == TRANSACTION_CANCELED:
                    reasons = _cancellation_codes(exc)
                    if reasons and reasons[0][0] == "ConditionalCheckFailed":
                        old = reasons[0][1]
                        return ReconcileAttempt(
                            False, from_item(old) if old else self.get(entry.key)
                        )
                    if not reasons or any(c in RETRYABLE_CANCELLATIONS for c, _ in reasons):
                        last = exc
                        continue
                    if len(reasons) > 1 and reasons[1][0] == VALIDATION_ERROR:
                        raise DayTotalUnstorable(
                            f"{entry.day_key} cannot take {format_amount(entry.amount)} more: "
                            f"{_cancellation_message(exc, 1)}"
                        ) from exc
                    raise
                if code in RETRYABLE_ERRORS:
                    last = exc
                    continue
                raise
            return ReconcileAttempt(
                True,
                replace(
                    entry,
                    status=RECONCILED,
                    reconciled_at=reconciled_at,
                    event_pending=True,
                    pending_state=PENDING,
                    pending_since=reconciled_at,
                    publish_lease_until=lease.until,
                    publish_lease_id=lease.lease_id,
                ),
            )
        raise TransactionRetriesExhausted(
            f"reconciling {entry.key} failed {self.policy.max_attempts} time(s): {last}"
        ) from last

    def claim_publish(self, key: str, *, now: str, lease: Lease) -> bool:
        """Take the publish lease if the event is pending and nobody holds a live lease."""
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression="SET #leaseUntil = :until, #leaseId = :leaseId",
                ConditionExpression=(
                    "#eventPending = :true AND "
                    "(attribute_not_exists(#leaseUntil) OR #leaseUntil < :now)"
                ),
                ExpressionAttributeNames={
                    "#eventPending": "eventPending",
                    "#leaseUntil": "publishLeaseUntil",
                    "#leaseId": "publishLeaseId",
                },
                ExpressionAttributeValues={
                    ":true": {"BOOL": True},
                    ":until": {"S": lease.until},
                    ":leaseId": {"S": lease.lease_id},
                    ":now": {"S": now},
                },
            )
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                return False
            raise
        return True

    def release_publish(self, key: str, lease: Lease) -> None:
        """Give the lease back after a failed publish, so the step's retry can publish at once."""
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression="REMOVE #leaseUntil, #leaseId",
                ConditionExpression="#leaseId = :leaseId",
                ExpressionAttributeNames={
                    "#leaseUntil": "publishLeaseUntil",
                    "#leaseId": "publishLeaseId",
                },
                ExpressionAttributeValues={":leaseId": {"S": lease.lease_id}},
            )
        except Exception as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise

    def mark_unreconcilable(self, key: str, *, at: str) -> bool:
        """Flagged -> unreconcilable, out of the sweep's index; False if no longer flagged."""
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression=(
                    "SET #status = :unreconcilable, #closedAt = :at "
                    "REMOVE #pendingState, #pendingSince"
                ),
                ConditionExpression="#status = :flagged",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#closedAt": "unreconcilableAt",
                    "#pendingState": "pendingState",
                    "#pendingSince": "pendingSince",
                },
                ExpressionAttributeValues={
                    ":unreconcilable": {"S": UNRECONCILABLE},
                    ":flagged": {"S": FLAGGED},
                    ":at": {"S": at},
                },
            )
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                return False
            raise
        return True

    def mark_published(self, key: str, *, at: str, event_id: str) -> bool:
        """Close the outbox: the entry leaves the pending index; False if already closed."""
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression=(
                    "SET #publishedAt = :at, #publishedEventId = :eventId "
                    "REMOVE #eventPending, #pendingState, #pendingSince, #leaseUntil, #leaseId"
                ),
                ConditionExpression="#eventPending = :true",
                ExpressionAttributeNames={
                    "#publishedAt": "publishedAt",
                    "#publishedEventId": "publishedEventId",
                    "#eventPending": "eventPending",
                    "#pendingState": "pendingState",
                    "#pendingSince": "pendingSince",
                    "#leaseUntil": "publishLeaseUntil",
                    "#leaseId": "publishLeaseId",
                },
                ExpressionAttributeValues={
                    ":at": {"S": at},
                    ":eventId": {"S": event_id},
                    ":true": {"BOOL": True},
                },
            )
        except Exception as exc:
            if error_code(exc) == CONDITION_FAILED:
                return False
            raise
        return True

    def pending(self, *, before: str) -> Iterator[LedgerEntry]:
        """Entries in the pending index since before `before` (oldest first, all pages)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": self.index_name,
            "KeyConditionExpression": "#pendingState = :pending AND #pendingSince < :before",
            "ExpressionAttributeNames": {
                "#pendingState": "pendingState",
                "#pendingSince": "pendingSince",
            },
            "ExpressionAttributeValues": {
                ":pending": {"S": PENDING},
                ":before": {"S": before},
            },
        }
        while True:
            response = self.dynamodb.query(**request)
            for item in response.get("Items", []):
                yield from_item(item)
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key


def _cancellation_message(exc: BaseException, index: int) -> str:
    """The message DynamoDB gave for one item of a cancelled transaction."""
    response = getattr(exc, "response", None)
    reasons = response.get("CancellationReasons") if isinstance(response, dict) else None
    if isinstance(reasons, list) and index < len(reasons) and isinstance(reasons[index], dict):
        return str(reasons[index].get("Message", ""))
    return ""


def _cancellation_codes(exc: BaseException) -> list[tuple[str, Item | None]]:
    """(code, old item) per transaction item, from a TransactionCanceledException."""
    response = getattr(exc, "response", None)
    reasons = response.get("CancellationReasons") if isinstance(response, dict) else None
    if not isinstance(reasons, list):
        return []
    return [
        (str(reason.get("Code", "None")), reason.get("Item"))
        for reason in reasons
        if isinstance(reason, dict)
    ]
