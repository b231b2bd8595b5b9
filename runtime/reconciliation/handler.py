"""Lambda entry points of the LateDataReconciler workflow (components/reconciliation_workflow.py).

  flag_late_record  FlagLateOrder: validate the EventBridge event; bad ones go to the DLQ
                    once and return `{"status": "rejected"}`; good ones flag the ledger
                    entry unless it exists (`flagged` | `duplicate`).
  reconcile         Reconcile: entry + day aggregate in one transaction (at most once per
                    order), then `OrderReconciled` through the entry's outbox flag.
  sweep             Sweep (schedule): re-drives entries pending longer than the threshold.

Every step is idempotent because Express workflows run at least once. `OrderReconciled`
is published once when things succeed; a crash after PutEvents but before the outbox
flag is cleared republishes it later (at least once: consumers de-duplicate on orderId).

Environment: LEDGER_TABLE_NAME, PENDING_INDEX_NAME (default "pending"), EVENT_BUS_NAME,
EVENT_SOURCE, DEAD_LETTER_QUEUE_URL, SWEEP_THRESHOLD_SECONDS (default 900),
BUSINESS_TIMEZONE (IANA, default UTC), PIPELINE_NAME (default "late-data"),
POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE (default "orderflow"), LOG_LEVEL.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from runtime.common.dead_letter import DeadLetterSender, build_dead_letter
from runtime.common.retry import RetryPolicy
from runtime.reconciliation.domain import (
    FLAGGED,
    RECONCILED,
    UNRECONCILABLE,
    LedgerEntry,
    Rejection,
    event_identity,
    flag_result,
    iso_ms,
    ledger_key_from,
    new_entry,
    parse_late_event,
    reconciled_detail,
    rejection_source,
)
from runtime.reconciliation.events import ReconciledEvents
from runtime.reconciliation.ledger import (
    DayTotalUnstorable,
    Lease,
    Ledger,
    LedgerEntryMissing,
    LedgerError,
)

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "orderflow")

# Module-level so tests can swap in policies with a recording `sleep`.
TRANSACT_RETRY = RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=2.0)
PUBLISH_RETRY = RetryPolicy(max_attempts=3)
DEAD_LETTER_RETRY = RetryPolicy()

PUBLISH_LEASE_SECONDS: Final = 120
"""Longer than the reconcile function's 60 s timeout, far shorter than the sweep threshold."""
SWEEP_TIME_RESERVE_MS: Final = 15_000
"""The sweep stops taking entries when less than this is left; the next tick goes on."""

Clock = Callable[[], datetime]
Outcome = Literal["reconciled", "already_reconciled", "unreconcilable"]
DAY_TOTAL_OUT_OF_RANGE: Final = "day_total_out_of_range"
"""Dead-letter reason: the day's total cannot take the entry's amount (DynamoDB's numbers)."""


class ConfigurationError(RuntimeError):
    """The function's environment is missing or wrong (a deployment problem, not data)."""


@dataclass(frozen=True)
class Settings:
    """The environment, parsed once per execution environment."""

    table_name: str
    index_name: str
    bus_name: str
    event_source: str
    dead_letter_queue_url: str
    sweep_threshold_seconds: int
    business_zone: tzinfo
    pipeline: str


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse the environment; a clear ConfigurationError beats a KeyError mid-invocation."""

    def required(name: str) -> str:
        value = env.get(name, "").strip()
        if not value:
            raise ConfigurationError(f"environment variable {name} is not set")
        return value

    threshold_text = env.get("SWEEP_THRESHOLD_SECONDS", "").strip() or "900"
    try:
        threshold = int(threshold_text)
    except ValueError:
        threshold = -1
    if threshold < 1:
        raise ConfigurationError(
            f"SWEEP_THRESHOLD_SECONDS must be a positive integer, not {threshold_text!r}"
        )
    return Settings(
        table_name=required("LEDGER_TABLE_NAME"),
        index_name=env.get("PENDING_INDEX_NAME", "").strip() or "pending",
        bus_name=env.get("EVENT_BUS_NAME", "").strip() or "default",
        event_source=env.get("EVENT_SOURCE", "").strip() or "orderflow.reconciliation",
        dead_letter_queue_url=env.get("DEAD_LETTER_QUEUE_URL", "").strip(),
        sweep_threshold_seconds=threshold,
        business_zone=business_zone(env.get("BUSINESS_TIMEZONE", "").strip() or "UTC"),
        pipeline=env.get("PIPELINE_NAME", "").strip() or "late-data",
    )


def business_zone(name: str) -> tzinfo:
    """UTC needs no tz database; any other IANA name goes through zoneinfo."""
    if name.upper() in {"UTC", "ETC/UTC", "Z"}:
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415 - only for non-UTC

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"BUSINESS_TIMEZONE {name!r} is not a known IANA time zone (on a host without "
            "/usr/share/zoneinfo, ship the `tzdata` package with the function)"
        ) from exc


@dataclass(frozen=True)
class Runtime:
    """Settings and AWS collaborators, built once per execution environment."""

    settings: Settings
    ledger: Ledger
    events: ReconciledEvents
    dead_letters: DeadLetterSender | None
    clock: Clock


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_runtime(
    env: Mapping[str, str] | None = None,
    *,
    clock: Clock = _utc_now,
    dynamodb: Any = None,
    events: Any = None,
    sqs: Any = None,
) -> Runtime:
    """Wire settings and clients (lazy unless given; tests inject clients and a clock)."""
    settings = load_settings(os.environ if env is None else env)
    return Runtime(
        settings=settings,
        ledger=Ledger(
            settings.table_name,
            index_name=settings.index_name,
            dynamodb=dynamodb,
            policy=TRANSACT_RETRY,
        ),
        events=ReconciledEvents(
            settings.bus_name, settings.event_source, events=events, policy=PUBLISH_RETRY
        ),
        dead_letters=(
            DeadLetterSender(settings.dead_letter_queue_url, sqs=sqs, policy=DEAD_LETTER_RETRY)
            if settings.dead_letter_queue_url
            else None
        ),
        clock=clock,
    )


@functools.cache
def runtime() -> Runtime:
    """The runtime of this execution environment (clients stay lazy until first used)."""
    return build_runtime()


def reset() -> None:
    """Forget the cached runtime (tests change the environment between cases)."""
    runtime.cache_clear()


def _count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=name, unit=unit, value=value)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def flag_late_record(event: Any, context: Any) -> dict[str, Any]:
    """FlagLateOrder: dead-letter a bad event (once) or flag its ledger entry (once)."""
    rt = runtime()
    received_at = rt.clock()
    identity = event_identity(event)
    if identity is not None:
        logger.set_correlation_id(identity)
    record = parse_late_event(event)
    if isinstance(record, Rejection):
        return _reject(rt, event, record)

    entry = new_entry(record, received_at=received_at, zone=rt.settings.business_zone)
    created, stored = rt.ledger.flag(entry)
    if created:
        _count("LateRecordsFlagged")
        _count("LatenessSeconds", stored.lateness_seconds, MetricUnit.Seconds)
        logger.info("late record flagged", extra={"ledgerEntry": flag_result(stored, "flagged")})
        return flag_result(stored, "flagged")

    _count("LateRecordDuplicates")
    if stored.amount != entry.amount:
        _count("LateRecordConflicts")
        logger.warning(
            "duplicate late record with a different amount: not applied",
            extra={
                "orderId": stored.order_id,
                "storedAmount": str(stored.amount),
                "duplicateAmount": str(entry.amount),
                "firstSeenEventId": stored.first_seen_event_id,
                "duplicateEventId": record.event_id,
            },
        )
    else:
        logger.info(
            "duplicate late record",
            extra={"orderId": stored.order_id, "duplicateEventId": record.event_id},
        )
    return flag_result(stored, "duplicate")


def _reject(rt: Runtime, event: Any, rejection: Rejection) -> dict[str, Any]:
    """One dead letter with the event verbatim; the workflow then ends (no exception)."""
    if rt.dead_letters is None:
        raise ConfigurationError("environment variable DEAD_LETTER_QUEUE_URL is not set")
    letter = build_dead_letter(
        pipeline=rt.settings.pipeline,
        reason=rejection.reason,
        message=rejection.message,
        source=rejection_source(event),
        record=event,
        full_record_at="the record exists nowhere else: the workflow's input was this event",
    )
    rt.dead_letters.send([letter])
    _count("LateRecordsRejected")
    logger.warning(
        "late record rejected",
        extra={
            "reason": rejection.reason,
            "detailMessage": rejection.message,
            "deadLetterId": letter.id,
        },
    )
    return {"status": "rejected", "reason": rejection.reason, "deadLetterId": letter.id}


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def reconcile(event: Any, context: Any) -> dict[str, Any]:
    """Reconcile: apply the stored entry to its day once, then publish `OrderReconciled`."""
    rt = runtime()
    try:
        key = ledger_key_from(event)
        logger.set_correlation_id(key)
        entry = rt.ledger.get(key)
        if entry is None:
            raise LedgerEntryMissing(f"no ledger entry {key}: FlagLateOrder never recorded it")
        outcome, published, entry = reconcile_entry(rt, entry)
    except Exception:
        _count("ReconcileFailures")  # the step retries; the sweep repairs what stays stuck
        raise
    _count("LateRecordsReconciled", int(outcome == "reconciled"))
    _count("OrderReconciledPublished", int(published))
    result = {
        "orderId": entry.order_id,
        "outcome": outcome,
        "businessDay": entry.business_day,
        "published": published,
    }
    logger.info("late record reconciled", extra={"reconciliation": result})
    return result


def reconcile_entry(rt: Runtime, entry: LedgerEntry) -> tuple[Outcome, bool, LedgerEntry]:
    """The shared reconcile logic of the event path and the sweep.

    1. flagged -> one transaction (entry + aggregate); a lost race means already reconciled;
    2. if the entry's event is pending, publish it under a lease, then clear the flag.
    Raises when PutEvents fails (the lease is released so a retry can publish at once).
    """
    now = rt.clock()
    lease = Lease(os.urandom(16).hex(), iso_ms(now + timedelta(seconds=PUBLISH_LEASE_SECONDS)))
    outcome: Outcome = "already_reconciled"
    holds_lease = False
    if entry.status == UNRECONCILABLE:
        return "unreconcilable", False, entry
    if entry.status == FLAGGED:
        try:
            attempt = rt.ledger.reconcile(entry, reconciled_at=iso_ms(now), lease=lease)
        except DayTotalUnstorable as refused:
            return _unreconcilable(rt, entry, str(refused))
        if attempt.entry is None:
            raise LedgerEntryMissing(f"ledger entry {entry.key} disappeared")
        entry = attempt.entry
        if attempt.applied:
            outcome, holds_lease = "reconciled", True
    if entry.status != RECONCILED:
        raise LedgerError(f"ledger entry {entry.key} has unexpected status {entry.status!r}")
    if not entry.event_pending:
        return outcome, False, entry
    if not holds_lease and not rt.ledger.claim_publish(entry.key, now=iso_ms(now), lease=lease):
        logger.info("another run holds the publish lease", extra={"ledgerKey": entry.key})
        return outcome, False, entry

    try:
        event_id = rt.events.publish(reconciled_detail(entry))
    except Exception:
        try:
            rt.ledger.release_publish(entry.key, lease)
        except Exception:  # the lease then simply expires
            logger.exception("could not release the publish lease", extra={"ledgerKey": entry.key})
        raise
    try:
        rt.ledger.mark_published(entry.key, at=iso_ms(rt.clock()), event_id=event_id)
    except Exception:
        # Published but still flagged pending: the sweep will publish again (at least once).
        logger.exception(
            "OrderReconciled published but the outbox flag was not cleared",
            extra={"ledgerKey": entry.key, "eventId": event_id},
        )
    return outcome, True, entry


def _unreconcilable(rt: Runtime, entry: LedgerEntry, why: str) -> tuple[Outcome, bool, LedgerEntry]:
    """Dead-letter an entry the day's total cannot take, then close it (no endless retry).

    The letter goes first: if closing the entry fails, the step's retry sends the same
    letter again (same id) and closes it then.
    """
    if rt.dead_letters is None:
        raise ConfigurationError("environment variable DEAD_LETTER_QUEUE_URL is not set")
    letter = build_dead_letter(
        pipeline=rt.settings.pipeline,
        reason=DAY_TOTAL_OUT_OF_RANGE,
        message=f"not reconciled: DynamoDB refused the day's new total ({why})",
        source={"ledgerKey": entry.key, "orderId": entry.order_id, "dayKey": entry.day_key},
        record=flag_result(entry, "flagged"),
        full_record_at=f"the ledger entry {entry.key} (status {UNRECONCILABLE})",
    )
    rt.dead_letters.send([letter])
    rt.ledger.mark_unreconcilable(entry.key, at=iso_ms(rt.clock()))
    _count("LateRecordsUnreconcilable")
    logger.error(
        "late record cannot be added to its day's total",
        extra={"ledgerKey": entry.key, "detailMessage": why, "deadLetterId": letter.id},
    )
    return "unreconcilable", False, replace(entry, status=UNRECONCILABLE, pending_state=None)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def sweep(event: Any, context: Any) -> dict[str, Any]:
    """Sweep: re-drive entries pending past the threshold; one bad entry blocks no other."""
    rt = runtime()
    now = rt.clock()
    cutoff = iso_ms(now - timedelta(seconds=rt.settings.sweep_threshold_seconds))
    pending = reconciled = published = failed = max_lateness = 0
    stopped_early = False
    for entry in rt.ledger.pending(before=cutoff):
        if _out_of_time(context):
            stopped_early = True
            break
        pending += 1
        max_lateness = max(max_lateness, entry.lateness_seconds)
        try:
            outcome, was_published, _ = reconcile_entry(rt, entry)
        except Exception:
            failed += 1
            logger.exception("sweep could not re-drive an entry", extra={"ledgerKey": entry.key})
            continue
        reconciled += outcome == "reconciled"
        published += was_published
    _count("LateRecordsPending", pending)
    _count("LateRecordsReconciled", reconciled)
    _count("OrderReconciledPublished", published)
    _count("SweepFailures", failed)
    _count("MaxLatenessSeconds", max_lateness, MetricUnit.Seconds)
    result = {
        "pending": pending,
        "reconciled": reconciled,
        "published": published,
        "failed": failed,
        "maxLatenessSeconds": max_lateness,
    }
    logger.info(
        "sweep finished", extra={"sweep": result, "cutoff": cutoff, "stoppedEarly": stopped_early}
    )
    return result


def _out_of_time(context: Any) -> bool:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return callable(remaining) and int(remaining()) < SWEEP_TIME_RESERVE_MS
