"""Lambda entry points of the ConsolidationConsumer (the logic lives in the sibling modules).

  consume        MSK event source mapping → validate, record once, start the fan-out
  apply_updates  fan-out Distributed Map batch → conditional UpdateItem per chargeback

Every Kafka record ends in exactly one outcome: processed (recorded and fan-out started,
or a replay of one), skipped (another event type), dead-lettered (poison: the record
verbatim with a reason) or failed (transient: reported in `batchItemFailures` with every
later offset of its partition, which is held back to keep Kafka's per-partition order).

Metrics (EMF, namespace POWERTOOLS_METRICS_NAMESPACE): consume emits MessagesProcessed,
MessagesFailed (reported for retry), MessagesSkipped and MessagesDeadLettered, which add
up to the batch size; apply_updates emits ChargebacksUpdated and ChargebacksMissing. Both
also print the seed's plain `METRICS: ...` line for its CloudWatch Insights query.

Environment (seed names first):
  DYNAMODB_TABLE_NAME      chargebacks table (apply_updates; seed default below)
  LOG_LEVEL                DEBUG, INFO, WARN or ERROR (POWERTOOLS_LOG_LEVEL wins if set)
  CONSOLIDATIONS_TABLE_NAME, FANOUT_STATE_MACHINE_ARN, ALLOWED_OUTPUT_PREFIXES   consume
  DEAD_LETTER_QUEUE_URL    both
  UPDATE_CONCURRENCY       apply_updates' parallel UpdateItem calls (default 16)
  PIPELINE_NAME            names the pipeline in dead letters (default "consolidation")
  POWERTOOLS_METRICS_NAMESPACE (default the seed's), POWERTOOLS_SERVICE_NAME

Why a loop of our own rather than Powertools' BatchProcessor: a failed record must hold
back the later offsets of its partition (BatchProcessor would process them), and that
bookkeeping is a few lines in `kafka.BatchFailures`. It also keeps the import small.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from runtime.common.dead_letter import DeadLetterSender, build_dead_letter, utc_now_iso
from runtime.common.retry import RetryPolicy
from runtime.consolidation.kafka import (
    BatchFailures,
    KafkaRecord,
    Poison,
    decode_value,
    records_of,
)
from runtime.consolidation.ledger import Ledger
from runtime.consolidation.schema import (
    ConsolidationEvent,
    Invalid,
    Unsupported,
    output_path_violation,
    parse_allowed_prefixes,
    parse_event,
)
from runtime.consolidation.updates import (
    ChargebackUpdater,
    UpdatesFailedError,
    batch_dead_letters,
    failure_summary,
    parse_batch,
    plan_rows,
    summarize,
)

DEFAULT_NAMESPACE: Final = "POC-Chargeback/ConsolidationUpdater"
DEFAULT_TABLE_NAME: Final = "poc-chargeback-chargebacks-dev"  # the seed's default
DEFAULT_PIPELINE: Final = "consolidation"
# Stop starting new records when less than this is left, and report the rest for retry
# instead of being killed mid-batch (the function's timeout is 120 s).
TIME_RESERVE_MS: Final = 10_000
_LEVELS: Final = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def _log_level() -> str:
    """The seed's LOG_LEVEL accepts WARN; Python's logging spells it WARNING."""
    raw = (os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO").upper()
    level = "WARNING" if raw == "WARN" else raw
    return level if level in _LEVELS else "INFO"


logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "consolidation", level=_log_level()
)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE)

# Module-level so tests can swap in policies with a recording `sleep`.
RETRY = RetryPolicy()


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


def _pipeline() -> str:
    return os.environ.get("PIPELINE_NAME") or DEFAULT_PIPELINE


def _concurrency() -> int:
    raw = os.environ.get("UPDATE_CONCURRENCY") or "16"
    if not raw.isdigit() or not 1 <= int(raw) <= 256:
        raise RuntimeError(f"UPDATE_CONCURRENCY must be an integer from 1 to 256, not {raw!r}")
    return int(raw)


def _metrics_line(processed: int, failed: int, updated: int) -> None:
    """The seed's Insights query parses this exact plain-text line, so it is printed as-is
    (inside a JSON log record the pattern's last `*` would swallow the rest of the JSON)."""
    print(
        f"METRICS: messages_processed={processed}, messages_failed={failed}, "
        f"chargebacks_updated={updated}",
        file=sys.stdout,
        flush=True,
    )


class Outcome(StrEnum):
    """Where one Kafka record ended."""

    PROCESSED = "processed"
    SKIPPED = "skipped"
    DEAD_LETTERED = "deadLettered"
    FAILED = "failed"


@dataclass
class ConsumeReport:
    """Per-record outcomes of one invocation."""

    outcomes: Counter[Outcome] = field(default_factory=Counter)
    replays: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    skipped_types: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Consumer:
    """What one consume invocation works with (built from the environment)."""

    ledger: Ledger
    sender: DeadLetterSender
    allowed_prefixes: tuple[str, ...]
    pipeline: str
    event_source_arn: str | None

    def handle(self, record: KafkaRecord, report: ConsumeReport) -> Outcome:
        """Decide and act on one record; exceptions mean "retry it" to the caller."""
        decoded = decode_value(record.raw)
        if isinstance(decoded, Poison):
            return self.dead_letter(record, decoded.reason, decoded.message, report)
        parsed = parse_event(decoded.value)
        if isinstance(parsed, Unsupported):
            report.skipped_types[parsed.event_type[:64]] += 1
            logger.info(
                "skipped: not a consolidation_completed event",
                extra={"event_type": parsed.event_type[:256], **self.where(record)},
            )
            return Outcome.SKIPPED
        if isinstance(parsed, Invalid):
            return self.dead_letter(record, parsed.reason, parsed.message, report)
        outside = output_path_violation(parsed, self.allowed_prefixes)
        if outside is not None:
            return self.dead_letter(record, outside.reason, outside.message, report)
        return self.fan_out(parsed, record, report)

    def fan_out(
        self, event: ConsolidationEvent, record: KafkaRecord, report: ConsumeReport
    ) -> Outcome:
        logger.set_correlation_id(event.correlation_id)
        try:
            recorded = self.ledger.record(
                event, source=record.source(self.event_source_arn), received_at=utc_now_iso()
            )
            if recorded.conflicting:
                logger.warning(
                    "replay differs from the recorded consolidation; the recorded one stands",
                    extra={"recorded": recorded.event.to_dict(), "received": event.to_dict()},
                )
            started = self.ledger.start_fanout(recorded)
            report.replays += recorded.replay or started.already
            logger.info(
                "consolidation replayed" if recorded.replay else "consolidation recorded",
                extra={
                    "consolidation_id": recorded.consolidation_id,
                    "execution_arn": started.execution_arn,
                    "execution_already_started": started.already,
                    "consolidation_order": event.consolidation_order,
                    **self.where(record),
                },
            )
        finally:
            logger.set_correlation_id(None)
        return Outcome.PROCESSED

    def dead_letter(
        self, record: KafkaRecord, reason: str, message: str, report: ConsumeReport
    ) -> Outcome:
        letter = build_dead_letter(
            pipeline=self.pipeline,
            reason=reason,
            message=message,
            source=record.source(self.event_source_arn),
            record=dict(record.raw),
            full_record_at="the Kafka topic holds it until its retention expires",
        )
        self.sender.send([letter])
        report.reasons[reason] += 1
        logger.warning(
            "dead-lettered",
            extra={
                "reason": reason,
                "detail": message,
                "deadLetterId": letter.id,
                **self.where(record),
            },
        )
        return Outcome.DEAD_LETTERED

    @staticmethod
    def where(record: KafkaRecord) -> dict[str, Any]:
        return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def _time_left_ms(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return float(remaining()) if callable(remaining) else float("inf")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """MSK batch → partial batch response (empty when every record is settled)."""
    consumer = Consumer(
        ledger=Ledger(_env("CONSOLIDATIONS_TABLE_NAME"), _env("FANOUT_STATE_MACHINE_ARN")),
        sender=DeadLetterSender(_env("DEAD_LETTER_QUEUE_URL"), policy=RETRY),
        allowed_prefixes=parse_allowed_prefixes(_env("ALLOWED_OUTPUT_PREFIXES")),
        pipeline=_pipeline(),
        event_source_arn=event.get("eventSourceArn"),
    )
    records = records_of(event)
    failures = BatchFailures()
    report = ConsumeReport()
    for record in records:
        if failures.held_back(record) or _time_left_ms(context) < TIME_RESERVE_MS:
            failures.fail(record)
            report.outcomes[Outcome.FAILED] += 1
            continue
        try:
            outcome = consumer.handle(record, report)
        except Exception:
            logger.exception(
                "record failed; it and later offsets of its partition will be retried",
                extra=Consumer.where(record),
            )
            failures.fail(record)
            outcome = Outcome.FAILED
        report.outcomes[outcome] += 1
    response = failures.response(records)

    for name, outcome in (
        ("MessagesProcessed", Outcome.PROCESSED),
        ("MessagesFailed", Outcome.FAILED),
        ("MessagesSkipped", Outcome.SKIPPED),
        ("MessagesDeadLettered", Outcome.DEAD_LETTERED),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=report.outcomes[outcome])
    logger.info(
        "batch consumed",
        extra={
            "records": len(records),
            **{outcome.value: report.outcomes[outcome] for outcome in Outcome},
            "replays": report.replays,
            "deadLetterReasons": dict(report.reasons),
            "skippedEventTypes": dict(report.skipped_types),
            "retrying": len(response["batchItemFailures"]),
        },
    )
    _metrics_line(report.outcomes[Outcome.PROCESSED], report.outcomes[Outcome.FAILED], 0)
    return response


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def apply_updates(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Distributed Map batch → counts; raises (so the Map retries) if updates keep failing."""
    batch = parse_batch(event)
    logger.set_correlation_id(batch.consolidation.correlation_id)
    updater = ChargebackUpdater(
        os.environ.get("DYNAMODB_TABLE_NAME") or DEFAULT_TABLE_NAME,
        policy=RETRY,
        concurrency=_concurrency(),
    )
    plan = plan_rows(batch.rows)
    results = updater.apply(plan.ids, batch.consolidation, utc_now_iso())
    letters = batch_dead_letters(batch, plan, results, pipeline=_pipeline())
    if letters:
        DeadLetterSender(_env("DEAD_LETTER_QUEUE_URL"), policy=RETRY).send(letters)
    summary = summarize(plan, results)

    metrics.add_metric(name="ChargebacksUpdated", unit=MetricUnit.Count, value=summary["updated"])
    metrics.add_metric(name="ChargebacksMissing", unit=MetricUnit.Count, value=summary["missing"])
    ties = summary["tiesWon"] + summary["tiesLost"]
    if ties:
        metrics.add_metric(name="ChargebackOrderTies", unit=MetricUnit.Count, value=ties)
        logger.warning(
            "another consolidation has the same partition date and sequence; the one whose "
            "consolidation id sorts last holds each chargeback both list",
            extra={
                "consolidation_order": batch.consolidation.consolidation_order,
                "tiesWon": summary["tiesWon"],
                "tiesLost": summary["tiesLost"],
                "otherJobs": sorted(set(results.rivals.values())),
                "examples": sorted(results.rivals)[:5],
            },
        )
    logger.info(
        "batch applied",
        extra={
            "file": batch.file,
            "consolidation_order": batch.consolidation.consolidation_order,
            "rows": len(batch.rows),
            **summary,
            "failed": len(results.failed),
            "deadLetters": [letter.id for letter in letters],
        },
    )
    _metrics_line(0, 0, summary["updated"])
    if results.failed:
        raise UpdatesFailedError(failure_summary(results))
    return summary
