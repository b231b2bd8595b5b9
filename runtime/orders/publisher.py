"""EventBridge and SNS access for the order handlers.

PutEvents answers HTTP 200 even when it drops an entry: the per-entry `ErrorCode` and
`FailedEntryCount` are the only signal, so they are checked and the entry retried with
backoff. Whatever still fails raises `PublishError`; the handler then reports the record
in `batchItemFailures` and the idempotency claim is released so the retry can publish.
Throttling raised as an exception is retried by botocore (standard mode, runtime.common).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runtime.common import clients
from runtime.common.retry import RetryPolicy, drain
from runtime.orders.domain import Notification


class PublishError(RuntimeError):
    """An event or notification was not accepted; transient, so the record is retried."""


class Publisher:
    """Puts domain events on the bus and notifications on the topic; clients are lazy."""

    def __init__(
        self, *, events: Any = None, sns: Any = None, policy: RetryPolicy | None = None
    ) -> None:
        self._events = events
        self._sns = sns
        self.policy = policy if policy is not None else RetryPolicy(max_attempts=3)

    @property
    def events(self) -> Any:
        if self._events is None:
            self._events = clients.client("events")
        return self._events

    @property
    def sns(self) -> Any:
        if self._sns is None:
            self._sns = clients.client("sns")
        return self._sns

    def put_event(self, entry: Mapping[str, str]) -> str:
        """Put one entry and return its EventId, or raise `PublishError`."""
        accepted: list[str] = []
        errors: list[str] = []

        def send(pending: Sequence[Mapping[str, str]]) -> list[Mapping[str, str]]:
            response = self.events.put_events(Entries=[dict(item) for item in pending])
            results = response.get("Entries") or [{}]
            result = results[0]
            if int(response.get("FailedEntryCount", 0)) == 0 and result.get("EventId"):
                accepted.append(str(result["EventId"]))
                return []
            errors.append(
                f"{result.get('ErrorCode', 'NoEventId')}: {result.get('ErrorMessage', '')}"
            )
            return list(pending)

        if drain(send, [entry], self.policy):
            raise PublishError(
                f"PutEvents did not accept the {entry.get('DetailType')} entry after "
                f"{len(errors)} attempt(s); last error {errors[-1]}"
            )
        return accepted[0]

    def notify(self, topic_arn: str, note: Notification) -> str:
        """Publish to SNS and return the MessageId; FIFO topics get group and dedup ids."""
        request: dict[str, Any] = {
            "TopicArn": topic_arn,
            "Subject": note.subject,
            "Message": note.message,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value}
                for name, value in note.attributes.items()
            },
        }
        if topic_arn.endswith(".fifo"):
            request["MessageGroupId"] = note.group_id
            request["MessageDeduplicationId"] = note.deduplication_id
        response = self.sns.publish(**request)
        message_id = response.get("MessageId")
        if not message_id:
            raise PublishError(f"SNS Publish to {topic_arn} returned no MessageId")
        return str(message_id)
