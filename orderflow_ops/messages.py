"""What a dead-letter queue message says: parsed into one `Letter` whatever wrote it.

Four writers put messages in orderflow's queues, and a replay must tell them apart:

- the pipelines themselves (`runtime.common.dead_letter`, and the workflows' SQS tasks):
  a JSON body `{"id", "pipeline", "reason", "message", "source", "record", "timestamp"}`;
- an EventBridge rule target that gave up: the event itself as the body, with the
  `ERROR_CODE`, `ERROR_MESSAGE`, `RULE_ARN`, `TARGET_ARN`, ... message attributes;
- an EventBridge Scheduler schedule that gave up: the target input as the body, with
  `SCHEDULE_ARN`, `TARGET_ARN`, `ERROR_CODE`, ... attributes;
- Lambda's asynchronous-invocation DLQ: the event as the body, with `RequestID`,
  `ErrorCode`, `ErrorMessage` attributes.

Foreign formats carry no id of ours, so one is derived from what identifies the failure
(the event id and target, or the body), which keeps "same failure, same id" true for
de-duplication across every kind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Who wrote the message, hence how it is redriven."""

    DEAD_LETTER = "dead_letter"
    """A pipeline's own dead letter (record verbatim, reason, source)."""
    UNDELIVERED_EVENT = "undelivered_event"
    """An event an EventBridge rule could not deliver to its target."""
    SCHEDULE_FAILURE = "schedule_failure"
    """A schedule tick EventBridge Scheduler could not deliver to its target."""
    ASYNC_INVOKE_FAILURE = "async_invoke_failure"
    """An event a Lambda function failed on three times when invoked asynchronously."""
    UNKNOWN = "unknown"
    """Anything else (it is listed and can be inspected, never redriven)."""


@dataclass(frozen=True)
class QueuedMessage:
    """One SQS message as received: what `ReceiveMessage` returned for it."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    """String message attributes (`ERROR_CODE`, `reason`, ...)."""
    system: Mapping[str, str] = field(default_factory=dict)
    """System attributes (`SentTimestamp`, `ApproximateReceiveCount`, ...)."""

    @classmethod
    def from_sqs(cls, message: Mapping[str, Any]) -> QueuedMessage:
        """Build from one entry of a `ReceiveMessage` response."""
        attributes = {
            name: str(value.get("StringValue", ""))
            for name, value in (message.get("MessageAttributes") or {}).items()
            if isinstance(value, Mapping)
        }
        return cls(
            message_id=str(message["MessageId"]),
            receipt_handle=str(message["ReceiptHandle"]),
            body=str(message.get("Body", "")),
            attributes=attributes,
            system={str(k): str(v) for k, v in (message.get("Attributes") or {}).items()},
        )


@dataclass(frozen=True)
class Letter:
    """A dead-letter message understood: what failed, why, where from, and its stable id."""

    kind: Kind
    id: str
    """The deterministic id: the pipeline's own, or derived for foreign formats."""
    reason: str
    message: str
    source: Mapping[str, Any]
    payload: Any
    """What to redrive: the record, the undelivered event or the schedule's input."""
    pipeline: str | None = None
    timestamp: str | None = None
    truncated: bool = False
    """The pipeline cut the record to fit SQS: `payload` is only a preview."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Anything else the body or attributes said (the workflow's `error`, ARNs, ...)."""
    queued: QueuedMessage | None = None

    def summary(self) -> dict[str, Any]:
        """The one-line view `list` prints (no payload)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "pipeline": self.pipeline,
            "reason": self.reason,
            "source": dict(self.source),
            "timestamp": self.timestamp,
            "truncated": self.truncated,
        }

    def detail(self) -> dict[str, Any]:
        """Everything `inspect` prints, payload included."""
        queued = self.queued
        return {
            **self.summary(),
            "message": self.message,
            "payload": self.payload,
            "extra": dict(self.extra),
            "sqs": (
                {
                    "messageId": queued.message_id,
                    "attributes": dict(queued.attributes),
                    "system": dict(queued.system),
                }
                if queued is not None
                else None
            ),
        }


_LETTER_FIELDS = frozenset({"id", "pipeline", "reason", "message", "source", "record"})
_EVENT_FIELDS = frozenset({"id", "source", "detail-type", "detail"})


def _sha256(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def parse(queued: QueuedMessage) -> Letter:
    """Classify and parse one message; never raises (an unknown one is `Kind.UNKNOWN`)."""
    body = _json(queued.body)
    attributes = queued.attributes
    if isinstance(body, dict) and body.keys() >= _LETTER_FIELDS:
        return _dead_letter(body, queued)
    if "SCHEDULE_ARN" in attributes:
        return _foreign(Kind.SCHEDULE_FAILURE, body, queued, key=attributes["SCHEDULE_ARN"])
    if "RULE_ARN" in attributes or "ERROR_CODE" in attributes:
        key = body.get("id") if isinstance(body, dict) else None
        return _foreign(Kind.UNDELIVERED_EVENT, body, queued, key=key)
    if "RequestID" in attributes:
        return _foreign(Kind.ASYNC_INVOKE_FAILURE, body, queued, key=attributes["RequestID"])
    return Letter(
        kind=Kind.UNKNOWN,
        id=_sha256("unknown", queued.body),
        reason="unknown_format",
        message="not a dead letter orderflow or an AWS service writes",
        source={},
        payload=body if body is not None else queued.body,
        queued=queued,
    )


def _dead_letter(body: dict[str, Any], queued: QueuedMessage) -> Letter:
    record = body.get("record")
    truncated = isinstance(record, dict) and record.get("truncated") is True and "sha256" in record
    source = body.get("source")
    return Letter(
        kind=Kind.DEAD_LETTER,
        id=str(body.get("id")),
        reason=str(body.get("reason")),
        message=str(body.get("message")),
        source=source if isinstance(source, dict) else {"value": source},
        payload=record,
        pipeline=str(body["pipeline"]) if body.get("pipeline") is not None else None,
        timestamp=str(body["timestamp"]) if body.get("timestamp") is not None else None,
        truncated=truncated,
        extra={k: v for k, v in body.items() if k not in _LETTER_FIELDS | {"timestamp"}},
        queued=queued,
    )


def _foreign(kind: Kind, body: Any, queued: QueuedMessage, *, key: Any) -> Letter:
    """An AWS service's DLQ message: the original payload plus error attributes."""
    attributes = dict(queued.attributes)
    target = attributes.get("TARGET_ARN")
    source: dict[str, Any] = {
        name: attributes[attr]
        for name, attr in (
            ("rule", "RULE_ARN"),
            ("schedule", "SCHEDULE_ARN"),
            ("target", "TARGET_ARN"),
            ("requestId", "RequestID"),
        )
        if attr in attributes
    }
    if kind is Kind.UNDELIVERED_EVENT and isinstance(body, dict):
        source["eventId"] = body.get("id")
    # Schedules deliver the same input every tick: the body alone would merge ticks, so
    # the execution id Scheduler adds (when present) tells them apart.
    identity = (kind.value, key, target, attributes.get("EXECUTION_ID"), queued.body)
    return Letter(
        kind=kind,
        id=_sha256(*identity),
        reason=(attributes.get("ERROR_CODE") or attributes.get("ErrorCode") or kind.value),
        message=(attributes.get("ERROR_MESSAGE") or attributes.get("ErrorMessage") or ""),
        source=source,
        payload=body if body is not None else queued.body,
        timestamp=queued.system.get("SentTimestamp"),
        extra={
            "attributes": attributes,
            "isEvent": isinstance(body, dict) and body.keys() >= _EVENT_FIELDS,
        },
        queued=queued,
    )
