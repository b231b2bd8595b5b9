"""Effects once per order transition, on Powertools Idempotency (DynamoDB).

Each effect (`event` on the bus, `notification` on SNS) runs under its own record keyed by
the transition's idempotency key, with Powertools' protocol: a conditional PutItem claims
it INPROGRESS before the effect, a failing effect deletes the claim so the retry can run
it, success stores COMPLETED with the result for 7 days. A second record with the same
transition (redelivery, replay, duplicate in one batch) gets the stored result and causes
nothing. Two effects get two records so a premium order whose SNS publish failed is not
put on the bus twice when it is retried.

The claim expires with the invocation (`register_context`), so a Lambda killed
mid-publish does not block the transition for 7 days. The price of that: a Lambda killed
after the effect and before the result is stored leaves the claim to expire, and the retry
runs the effect again. No store can close that window (EventBridge and SNS standard topics
do not deduplicate), so delivery is at least once, and every copy carries the same
`detail.eventId` (domain.domain_event_id) for consumers to deduplicate on.

The Powertools module imports boto3 (~150 ms), so it is imported and the persistence
layer built on first use, never at import.

Record ids are `<pipeline>.<effect>#sha256(json(idempotencyKey))` (Powertools hashes the
payload, and `key_prefix` keeps ids independent of the Lambda's generated name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from runtime.common import clients

EXPIRES_AFTER_SECONDS: Final = 7 * 24 * 60 * 60
EVENT: Final = "event"
NOTIFICATION: Final = "notification"
_DUPLICATE: Final = "duplicate"


@dataclass(frozen=True)
class Once:
    """What an effect returned, and whether that result was replayed from the store."""

    result: dict[str, Any]
    duplicate: bool


def _perform(*, idempotency_key: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The guarded function: Powertools hashes `idempotency_key` and stores the result."""
    return {"result": action()}


def _mark_duplicate(response: Any, idempotent_data: Any) -> Any:
    """Powertools calls this only when it replays a stored (COMPLETED) response."""
    stored = response if isinstance(response, dict) else {}
    return {**stored, _DUPLICATE: True}


class Idempotency:
    """Runs an action at most once per (effect, key) across invocations and retries."""

    def __init__(self, table_name: str, *, pipeline: str, dynamodb: Any = None) -> None:
        if not table_name:
            raise ValueError("an idempotency table name is required")
        self.table_name = table_name
        self.pipeline = pipeline
        self._dynamodb = dynamodb
        self._context: Any = None
        self._config: Any = None
        self._layer: Any = None
        self._guards: dict[str, Callable[..., Any]] = {}

    def register_context(self, context: Any) -> None:
        """Bind the claim's expiry to this invocation's remaining time."""
        self._context = context
        if self._config is not None:
            self._config.register_lambda_context(context)

    def record_id_prefix(self, effect: str) -> str:
        """The `key_prefix` of an effect's records (ids are `<prefix>#<hash>`)."""
        return f"{self.pipeline}.{effect}"

    def _guard(self, effect: str) -> Callable[..., Any]:
        cached = self._guards.get(effect)
        if cached is not None:
            return cached
        from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 - lazy, see module docstring
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        if self._layer is None:
            dynamodb = self._dynamodb if self._dynamodb is not None else clients.client("dynamodb")
            self._config = IdempotencyConfig(
                expires_after_seconds=EXPIRES_AFTER_SECONDS,
                raise_on_no_idempotency_key=True,
                hash_function="sha256",
                response_hook=_mark_duplicate,
            )
            if self._context is not None:
                self._config.register_lambda_context(self._context)
            self._layer = DynamoDBPersistenceLayer(
                table_name=self.table_name, boto3_client=dynamodb
            )
        guard: Callable[..., Any] = idempotent_function(
            _perform,
            data_keyword_argument="idempotency_key",
            persistence_store=self._layer,
            config=self._config,
            key_prefix=self.record_id_prefix(effect),
        )
        self._guards[effect] = guard
        return guard

    def once(self, effect: str, key: str, action: Callable[[], dict[str, Any]]) -> Once:
        """Run `action` unless this (effect, key) already completed; exceptions propagate.

        Raises Powertools' IdempotencyAlreadyInProgressError while another invocation holds
        the claim, and IdempotencyPersistenceLayerError when DynamoDB fails: both are
        transient, the caller fails the record and the Pipe retries it.
        """
        response = self._guard(effect)(idempotency_key=key, action=action)
        stored = response if isinstance(response, dict) else {}
        result = stored.get("result")
        return Once(
            result=result if isinstance(result, dict) else {},
            duplicate=bool(stored.get(_DUPLICATE, False)),
        )
