"""Lambda entry points of the PremiumOrderPipe, one per EventBridge Pipe.

  process_standard  Pipe 1 (INSERT/MODIFY, accepted status)  -> `OrderAccepted` on the bus
  process_premium   Pipe 2 (MODIFY pending -> shipped)         -> `PremiumOrderShipped` on the
                                                                 bus and an SNS notification

Every record ends in exactly one outcome: published, duplicate (already published),
skipped (valid but not qualifying), dead-lettered (bad data, to the application DLQ with
the record verbatim) or failed (transient; its eventID is returned in
`{"batchItemFailures": [{"itemIdentifier": eventID}]}` and the Pipe retries it).

Environment: EVENT_BUS_NAME, EVENT_SOURCE, TOPIC_ARN (premium), DEAD_LETTER_QUEUE_URL,
IDEMPOTENCY_TABLE_NAME, ACCEPTED_STATUSES, KNOWN_STATUSES, PREMIUM_FROM_STATUS,
PREMIUM_TO_STATUS, STANDARD_MIN_AMOUNT, PREMIUM_MIN_AMOUNT, TEST_EMAIL_DOMAINS,
PIPELINE_NAME (defaults in runtime.orders.config), POWERTOOLS_SERVICE_NAME,
POWERTOOLS_METRICS_NAMESPACE (default "orderflow"), POWERTOOLS_LOG_LEVEL.

Why a small loop of our own instead of Powertools' BatchProcessor: Pipes send a bare list
and match failures by `eventID`, while BatchProcessor reports the DynamoDB SequenceNumber;
making it report eventID means overriding its private `_collect_dynamodb_failures`, which
a newer layer version (resolved as "latest" from SSM) may rename without notice. The
loop also needs state BatchProcessor has no place for: a record without an eventID cannot
be reported and must fail the whole invocation, and later records of an order whose
publish failed are held back so that order's events stay in stream order. It also saves
~40 ms of import.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from runtime.common.dead_letter import DeadLetterSender, build_dead_letter
from runtime.common.retry import RetryPolicy
from runtime.orders.config import Flow, Settings, load_settings
from runtime.orders.domain import (
    Publish,
    Rejection,
    Skip,
    decide_premium,
    decide_standard,
    event_entry,
    notification,
    parse_record,
    record_source,
)
from runtime.orders.idempotency import EVENT, NOTIFICATION, Idempotency
from runtime.orders.publisher import Publisher

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "orderflow")

# Module-level so tests can swap in policies with a recording `sleep`.
RETRY = RetryPolicy()
PUBLISH_RETRY = RetryPolicy(max_attempts=3)

PUBLISHED_METRIC: dict[Flow, str] = {
    "standard": "OrdersAccepted",
    "premium": "PremiumOrdersShipped",
}


class Outcome(StrEnum):
    """Where one record ended."""

    PUBLISHED = "published"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    DEAD_LETTERED = "dead_lettered"
    FAILED = "failed"


@dataclass(frozen=True)
class Runtime:
    """Settings and AWS collaborators, built once per execution environment."""

    settings: Settings
    publisher: Publisher
    idempotency: Idempotency
    dead_letters: DeadLetterSender


@dataclass
class BatchReport:
    """Per-record outcomes of one invocation and the Pipes response derived from them."""

    flow: Flow
    outcomes: list[Outcome] = field(default_factory=list)
    failed_event_ids: list[str] = field(default_factory=list)
    skip_reasons: Counter[str] = field(default_factory=Counter)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)

    def count(self, outcome: Outcome) -> int:
        return self.outcomes.count(outcome)

    def response(self) -> dict[str, list[dict[str, str]]]:
        """What Pipes reads: the eventIDs to retry (none means the batch is done)."""
        failed = dict.fromkeys(self.failed_event_ids)
        return {"batchItemFailures": [{"itemIdentifier": event_id} for event_id in failed]}

    def summary(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "records": len(self.outcomes),
            **{outcome.value: self.count(outcome) for outcome in Outcome},
            "skipReasons": dict(self.skip_reasons),
            "deadLetterReasons": dict(self.dead_letter_reasons),
        }


@functools.cache
def runtime(flow: Flow) -> Runtime:
    """Read the environment once per cold start; clients stay lazy until first used."""
    settings = load_settings(flow, os.environ)
    return Runtime(
        settings=settings,
        publisher=Publisher(policy=PUBLISH_RETRY),
        idempotency=Idempotency(settings.idempotency_table_name, pipeline=settings.pipeline_name),
        dead_letters=DeadLetterSender(settings.dead_letter_queue_url, policy=RETRY),
    )


def reset() -> None:
    """Forget the cached runtime (tests change the environment and the mocks)."""
    runtime.cache_clear()


def _event_id(record: Any) -> str | None:
    event_id = record.get("eventID") if isinstance(record, dict) else None
    return event_id if isinstance(event_id, str) and event_id else None


def _dead_letter(record: Any, rejection: Rejection, rt: Runtime) -> None:
    """Send one bad record to the DLQ now; DeadLetterError propagates (record retried)."""
    letter = build_dead_letter(
        pipeline=rt.settings.pipeline_name,
        reason=rejection.reason,
        message=rejection.message,
        source=record_source(record),
        record=record,
    )
    rt.dead_letters.send([letter])
    logger.warning(
        "record dead-lettered",
        extra={
            "reason": rejection.reason,
            "reasonMessage": rejection.message,
            "deadLetterId": letter.id,
        },
    )


def _publish(decision: Publish, rt: Runtime) -> bool:
    """Run each effect once per transition; True when every effect was already done."""
    settings = rt.settings
    entry = event_entry(
        decision, source=settings.event_source, event_bus_name=settings.event_bus_name
    )
    event = rt.idempotency.once(
        EVENT, decision.idempotency_key, lambda: {"eventId": rt.publisher.put_event(entry)}
    )
    duplicate = event.duplicate
    if settings.flow == "premium":
        topic_arn = settings.topic_arn or ""
        note = notification(decision)
        sent = rt.idempotency.once(
            NOTIFICATION,
            decision.idempotency_key,
            lambda: {"messageId": rt.publisher.notify(topic_arn, note)},
        )
        duplicate = duplicate and sent.duplicate
    return duplicate


def _process_record(
    record: Any, rt: Runtime, report: BatchReport, failed_orders: set[str]
) -> Outcome:
    settings = rt.settings
    parsed = parse_record(record, settings.known_statuses)
    if isinstance(parsed, Rejection):
        _dead_letter(record, parsed, rt)
        report.dead_letter_reasons[parsed.reason] += 1
        return Outcome.DEAD_LETTERED

    decision: Publish | Skip = (
        decide_standard(parsed, settings.standard)
        if settings.flow == "standard"
        else decide_premium(parsed, settings.premium)
    )
    keys = {"orderId": parsed.order_id, "eventName": parsed.event_name}
    if isinstance(decision, Skip):
        report.skip_reasons[decision.reason] += 1
        logger.info(
            "record skipped",
            extra={**keys, "reason": decision.reason, "reasonMessage": decision.message},
        )
        return Outcome.SKIPPED
    if parsed.order_id in failed_orders:
        logger.warning(
            "record held back: an earlier record of this order failed in this batch",
            extra=keys,
        )
        return Outcome.FAILED
    try:
        duplicate = _publish(decision, rt)
    except Exception:
        failed_orders.add(parsed.order_id)
        raise
    logger.info(
        "duplicate suppressed" if duplicate else "published",
        extra={
            **keys,
            "detailType": decision.detail_type,
            "idempotencyKey": decision.idempotency_key,
        },
    )
    return Outcome.DUPLICATE if duplicate else Outcome.PUBLISHED


def process_batch(event: Any, rt: Runtime) -> BatchReport:
    """Process a Pipes batch record by record; only transient failures are reported."""
    if not isinstance(event, list):
        raise TypeError(
            "EventBridge Pipes invoke this function with a bare JSON list of DynamoDB stream "
            f"records; got {type(event).__name__}"
        )
    report = BatchReport(rt.settings.flow)
    failed_orders: set[str] = set()
    try:
        for record in event:
            event_id = _event_id(record)
            logger.set_correlation_id(event_id)
            try:
                outcome = _process_record(record, rt, report, failed_orders)
            except Exception:
                if event_id is None:
                    # Pipes could not match a failure without an eventID: retry the batch.
                    raise
                logger.exception("record failed; reported for retry")
                outcome = Outcome.FAILED
            report.outcomes.append(outcome)
            if outcome is Outcome.FAILED and event_id is not None:
                report.failed_event_ids.append(event_id)
    finally:
        logger.set_correlation_id(None)
    return report


def _emit_metrics(report: BatchReport) -> None:
    metrics.add_dimension(name="Flow", value=report.flow)
    for name, outcome in (
        (PUBLISHED_METRIC[report.flow], Outcome.PUBLISHED),
        ("OrdersSkipped", Outcome.SKIPPED),
        ("RecordsDeadLettered", Outcome.DEAD_LETTERED),
        ("DuplicatesSuppressed", Outcome.DUPLICATE),
        ("RecordsFailed", Outcome.FAILED),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=report.count(outcome))


def _invoke(event: Any, context: Any, flow: Flow) -> dict[str, list[dict[str, str]]]:
    rt = runtime(flow)
    logger.append_keys(flow=flow)
    rt.idempotency.register_context(context)
    report = process_batch(event, rt)
    _emit_metrics(report)
    logger.info("batch processed", extra=report.summary())
    return report.response()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def process_standard(event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
    """Pipe 1's target: `OrderAccepted` for real customers' orders above the minimum."""
    return _invoke(event, context, "standard")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def process_premium(event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
    """Pipe 2's target: `PremiumOrderShipped` plus an SNS notification for premium orders."""
    return _invoke(event, context, "premium")
