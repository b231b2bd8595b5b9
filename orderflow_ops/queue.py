"""Reading a dead-letter queue without losing anything: receive, hold, then delete or release.

SQS has no "peek". Messages are received with a visibility timeout long enough for the
whole replay (`hold_seconds`), so no one else sees them meanwhile; `list` and `inspect`
release them at once (visibility 0), `redrive` deletes each only after its redrive
succeeded and releases the rest. Receiving increments `ApproximateReceiveCount`; that is
harmless on a dead-letter queue (which has no redrive policy of its own).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from orderflow.aws_facts import SQS_MAX_BATCH_ENTRIES, SQS_MAX_RECEIVE_MESSAGES
from orderflow_ops.messages import Letter, QueuedMessage, parse

SQS_MAX_RECEIVE = SQS_MAX_RECEIVE_MESSAGES.value
SQS_MAX_BATCH = SQS_MAX_BATCH_ENTRIES.value  # DeleteMessageBatch, ChangeMessageVisibilityBatch
DEFAULT_HOLD_SECONDS = 900


@dataclass
class HeldMessages:
    """The messages received in one pass, invisible to others until released or deleted."""

    queue_url: str
    letters: list[Letter] = field(default_factory=list)

    def by_id(self) -> dict[str, list[Letter]]:
        """Letters grouped by dead-letter id, in the order first seen (copies share an id)."""
        groups: dict[str, list[Letter]] = {}
        for letter in self.letters:
            groups.setdefault(letter.id, []).append(letter)
        return groups


class DeadLetterQueue:
    """One queue, read through a boto3 SQS client (AWS or the emulator's moto)."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        wait_seconds: int = 1,
        hold_seconds: int = DEFAULT_HOLD_SECONDS,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.wait_seconds = wait_seconds
        self.hold_seconds = hold_seconds

    def receive_all(self, limit: int | None = None) -> HeldMessages:
        """Receive (and hold) every message, up to `limit`; stops at the first empty answer.

        Short polls sample a subset of SQS's servers, so an empty answer to a poll with no
        wait can be wrong for a non-empty queue; `wait_seconds` (default 1) makes it a long
        poll that queries all of them.
        """
        held = HeldMessages(self.queue_url)
        seen: set[str] = set()
        while limit is None or len(held.letters) < limit:
            wanted = SQS_MAX_RECEIVE if limit is None else min(SQS_MAX_RECEIVE, limit - len(seen))
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.hold_seconds,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            messages = response.get("Messages") or []
            if not messages:
                break
            for raw in messages:
                queued = QueuedMessage.from_sqs(raw)
                if queued.message_id in seen:
                    continue
                seen.add(queued.message_id)
                held.letters.append(parse(queued))
        return held

    def release(self, letters: Iterable[Letter]) -> list[str]:
        """Make held messages visible again at once; returns ids SQS refused to release."""
        return self._batch(letters, delete=False)

    def delete(self, letters: Iterable[Letter]) -> list[str]:
        """Delete held messages; returns the message ids SQS refused to delete."""
        return self._batch(letters, delete=True)

    def _batch(self, letters: Iterable[Letter], *, delete: bool) -> list[str]:
        entries = [
            (letter.queued.message_id, letter.queued.receipt_handle)
            for letter in letters
            if letter.queued is not None
        ]
        failed: list[str] = []
        for start in range(0, len(entries), SQS_MAX_BATCH):
            chunk = entries[start : start + SQS_MAX_BATCH]
            request: list[dict[str, Any]] = [
                {"Id": str(position), "ReceiptHandle": handle}
                for position, (_, handle) in enumerate(chunk)
            ]
            try:
                if delete:
                    response = self.sqs.delete_message_batch(
                        QueueUrl=self.queue_url, Entries=request
                    )
                else:
                    for entry in request:
                        entry["VisibilityTimeout"] = 0
                    response = self.sqs.change_message_visibility_batch(
                        QueueUrl=self.queue_url, Entries=request
                    )
            except ClientError:
                # A refused call refuses the whole chunk: report it, lose nothing.
                failed += [message_id for message_id, _ in chunk]
                continue
            failed += [chunk[int(f["Id"])][0] for f in response.get("Failed") or []]
        return failed
