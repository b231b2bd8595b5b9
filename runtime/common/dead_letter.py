"""The dead-letter message every pipeline writes, and a batched SQS sender for it.

Body (JSON): {"id", "pipeline", "reason", "message", "source", "record", "timestamp"}.
`source` is pipeline-specific (validation: bucket/key/versionId/recordIndex; a stream
pipeline might use table/sequenceNumber), so the builder takes it as a plain dict.

The id is a SHA-256 over the pipeline name and the canonical JSON of `source`, so the same
failure reprocessed twice gets the same id and consumers can deduplicate on it. Callers
make `source` identify the failing unit exactly (validation omits `recordIndex` for a
file-level failure, which can therefore never collide with a record's id).

Bodies are ASCII-escaped JSON: SQS refuses some Unicode code points (and lone surrogates
from a parsed `"\\ud800"` cannot be UTF-8 encoded at all), while escaped JSON is always
accepted and decodes back to the identical value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orderflow import aws_facts
from runtime.common import clients
from runtime.common.retry import RetryPolicy, drain

# SQS caps one message (body plus attribute names, types and values) at its queue's
# MaximumMessageSize, 256 KiB unless raised (orderflow's queues keep it), and the messages of
# one SendMessageBatch request at 1 MiB in total (the facts table, packaged with this code).
SQS_MAX_MESSAGE_BYTES = aws_facts.SQS_MAX_MESSAGE_BYTES.value
SQS_MAX_BATCH_BYTES = aws_facts.SQS_MAX_BATCH_BYTES.value
SQS_MAX_BATCH_ENTRIES = aws_facts.SQS_MAX_BATCH_ENTRIES.value
PREVIEW_CHARS = 4096


class DeadLetterError(RuntimeError):
    """Dead letters could not be built or delivered; the invocation must fail and retry."""


def utc_now_iso() -> str:
    """Current time as ISO-8601 UTC with millisecond precision and a `Z` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def compact_json(value: Any, *, sort_keys: bool = False) -> str:
    """Compact, ASCII-escaped JSON: the one serialisation used for bodies, sizes and hashes."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True, sort_keys=sort_keys)


def dead_letter_id(pipeline: str, source: Mapping[str, Any]) -> str:
    """Deterministic id of a failure: sha256 over pipeline + canonical (sorted) source."""
    identity = compact_json({"pipeline": pipeline, "source": dict(source)}, sort_keys=True)
    return hashlib.sha256(identity.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class DeadLetter:
    """One ready-to-send message; `body` is exactly what lands in the queue."""

    id: str
    pipeline: str
    reason: str
    body: str
    truncated: bool = False

    def attributes(self) -> dict[str, dict[str, str]]:
        """SQS MessageAttributes, so consumers can filter without parsing the body."""
        return {
            "reason": {"DataType": "String", "StringValue": self.reason},
            "pipeline": {"DataType": "String", "StringValue": self.pipeline},
            "deadLetterId": {"DataType": "String", "StringValue": self.id},
        }

    @property
    def size(self) -> int:
        """Bytes SQS counts against its limits: body plus attribute name, type and value."""
        return _message_size(self.body, self.attributes())

    def payload(self) -> dict[str, Any]:
        """The body parsed back (handy for logs and tests)."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def _message_size(body: str, attributes: Mapping[str, Mapping[str, str]]) -> int:
    size = len(body.encode("utf-8"))
    for name, attribute in attributes.items():
        size += len(name.encode("utf-8")) + len(attribute["DataType"].encode("utf-8"))
        size += len(attribute["StringValue"].encode("utf-8"))
    return size


def build_dead_letter(
    *,
    pipeline: str,
    reason: str,
    message: str,
    source: Mapping[str, Any],
    record: Any,
    timestamp: str | None = None,
    full_record_at: str = "the source still holds the record verbatim",
) -> DeadLetter:
    """Build a dead letter, truncating `record` only when the message would exceed 256 KiB.

    `full_record_at` tells a reader of a truncated letter where the whole record lives
    (pipelines whose source does not keep it should say so).
    """
    letter_id = dead_letter_id(pipeline, source)
    stamp = timestamp if timestamp is not None else utc_now_iso()

    def render(record_value: Any, text: str, *, truncated: bool) -> DeadLetter:
        body = compact_json(
            {
                "id": letter_id,
                "pipeline": pipeline,
                "reason": reason,
                "message": text,
                "source": dict(source),
                "record": record_value,
                "timestamp": stamp,
            }
        )
        return DeadLetter(letter_id, pipeline, reason, body, truncated=truncated)

    letter = render(record, message, truncated=False)
    if letter.size <= SQS_MAX_MESSAGE_BYTES:
        return letter

    record_json = compact_json(record)
    summary = {
        "truncated": True,
        "preview": record_json[:PREVIEW_CHARS],
        "sha256": hashlib.sha256(record_json.encode("ascii")).hexdigest(),
    }
    note = (
        f"{message} [record truncated: its JSON is {len(record_json)} bytes, over the SQS "
        f"{SQS_MAX_MESSAGE_BYTES}-byte message limit; `preview` holds the first "
        f"{PREVIEW_CHARS} characters and `sha256` hashes the compact ASCII-escaped JSON; "
        f"{full_record_at}]"
    )
    letter = render(summary, note, truncated=True)
    if letter.size > SQS_MAX_MESSAGE_BYTES:
        raise DeadLetterError(f"dead letter {letter_id} exceeds the SQS limit even truncated")
    return letter


def chunk_for_sqs(letters: Sequence[DeadLetter]) -> list[list[DeadLetter]]:
    """Group letters into SendMessageBatch requests: at most 10 entries and 256 KiB each."""
    chunks: list[list[DeadLetter]] = []
    current: list[DeadLetter] = []
    current_bytes = 0
    for letter in letters:
        size = letter.size
        if current and (
            len(current) == SQS_MAX_BATCH_ENTRIES or current_bytes + size > SQS_MAX_BATCH_BYTES
        ):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(letter)
        current_bytes += size
    if current:
        chunks.append(current)
    return chunks


class DeadLetterSender:
    """Deliver dead letters with SendMessageBatch, retrying entries SQS reports as failed.

    Entries SQS blames on the sender (`SenderFault`) are not retried: resending the same
    bytes cannot succeed. Anything undelivered raises `DeadLetterError`, failing the
    invocation so the caller's retry (Step Functions, the event source) tries again;
    consumers deduplicate the resulting repeats by `id`.
    """

    def __init__(self, queue_url: str, *, sqs: Any = None, policy: RetryPolicy | None = None):
        if not queue_url:
            raise ValueError("a dead-letter queue URL is required")
        self.queue_url = queue_url
        self._sqs = sqs
        self.policy = policy if policy is not None else RetryPolicy()

    @property
    def sqs(self) -> Any:
        if self._sqs is None:
            self._sqs = clients.client("sqs")
        return self._sqs

    def send(self, letters: Sequence[DeadLetter]) -> int:
        """Send every letter or raise; returns how many were sent."""
        fatal: list[str] = []
        undelivered: list[DeadLetter] = []

        def send_chunk(chunk: Sequence[DeadLetter]) -> list[DeadLetter]:
            response = self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {
                        "Id": str(position),
                        "MessageBody": letter.body,
                        "MessageAttributes": letter.attributes(),
                    }
                    for position, letter in enumerate(chunk)
                ],
            )
            retry: list[DeadLetter] = []
            for failure in response.get("Failed", []):
                letter = chunk[int(failure["Id"])]
                if failure.get("SenderFault"):
                    fatal.append(f"{letter.id}: {failure.get('Code')} {failure.get('Message')}")
                else:
                    retry.append(letter)
            return retry

        for chunk in chunk_for_sqs(letters):
            undelivered.extend(drain(send_chunk, chunk, self.policy))
        if fatal or undelivered:
            details = fatal + [f"{letter.id}: retries exhausted" for letter in undelivered]
            raise DeadLetterError(
                f"{len(details)} dead letter(s) not delivered to {self.queue_url}: "
                + "; ".join(details[:10])
            )
        return len(letters)
