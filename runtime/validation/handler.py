"""Lambda entry points of the validation pipeline; the logic lives in intake and batch.

Environment:
  DEAD_LETTER_QUEUE_URL   both handlers
  WORK_BUCKET             inspect_file: where a {"orders": [...]} file's array is copied to
  KEY_SUFFIXES            inspect_file, optional: suffixes of sales files, comma-separated;
                          other keys are ignored (compared ignoring case)
  TABLE_NAME              validate_batch
  PIPELINE_NAME           optional, default "validation" (names the pipeline in dead letters)
  POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE (default "orderflow"), LOG_LEVEL
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from runtime.common.dead_letter import DeadLetterSender
from runtime.common.retry import RetryPolicy
from runtime.validation.batch import parse_batch_event, plan_batch
from runtime.validation.intake import inspect_object, parse_file_event
from runtime.validation.store import OrderTable, S3Objects

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "orderflow")

# Module-level so tests can swap in a policy with a recording `sleep`.
RETRY = RetryPolicy()


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


def _key_suffixes() -> list[str]:
    """KEY_SUFFIXES: the component's `key_suffixes`, comma-separated (unset: every key)."""
    return [s for s in os.environ.get("KEY_SUFFIXES", "").split(",") if s]


def _pipeline() -> str:
    return os.environ.get("PIPELINE_NAME") or "validation"


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def inspect_file(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Step 1 of the workflow: classify the uploaded file (see intake.inspect_object)."""
    sender = DeadLetterSender(_env("DEAD_LETTER_QUEUE_URL"), policy=RETRY)
    result = inspect_object(
        parse_file_event(event),
        s3=S3Objects(),
        sender=sender,
        pipeline=_pipeline(),
        work_bucket=_env("WORK_BUCKET"),
        key_suffixes=_key_suffixes(),
    )
    rejected = result["format"] == "rejected"
    metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=int(rejected))
    logger.info("file inspected", extra={"inspection": result})
    return result


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def validate_batch(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Map child: store valid records, dead-letter the rest; raise to make the Map retry."""
    table = OrderTable(_env("TABLE_NAME"), policy=RETRY)
    sender = DeadLetterSender(_env("DEAD_LETTER_QUEUE_URL"), policy=RETRY)
    batch, items = parse_batch_event(event)
    plan = plan_batch(items, batch, pipeline=_pipeline())
    stored = table.put_items(plan.items)
    dead_lettered = sender.send(plan.dead_letters)
    metrics.add_metric(name="RecordsStored", unit=MetricUnit.Count, value=stored)
    metrics.add_metric(name="RecordsDeadLettered", unit=MetricUnit.Count, value=dead_lettered)
    logger.info(
        "batch validated",
        extra={
            "source": {"bucket": batch.bucket, "key": batch.key, "versionId": batch.version_id},
            "items": len(items),
            "firstIndex": items[0].index if items else None,
            "stored": stored,
            "deadLettered": dead_lettered,
            "reasons": dict(plan.reasons),
            "truncatedDeadLetters": sum(letter.truncated for letter in plan.dead_letters),
        },
    )
    return {"stored": stored, "deadLettered": dead_lettered}
