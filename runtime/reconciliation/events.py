"""PutEvents for `OrderReconciled`.

PutEvents answers HTTP 200 even when it drops the entry: only `FailedEntryCount` and the
entry's `ErrorCode` say so, so both are checked and the entry is retried with backoff.
Whatever still fails raises `PublishError`; the ledger entry then keeps `eventPending`
and the step's retry (or the sweep) publishes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from runtime.common import clients
from runtime.common.retry import RetryPolicy, drain

DETAIL_TYPE: Final = "OrderReconciled"


class PublishError(RuntimeError):
    """`OrderReconciled` was not accepted; transient, the entry stays pending."""


class ReconciledEvents:
    """Puts `OrderReconciled` on the configured bus; the client is lazy and injectable."""

    def __init__(
        self,
        bus_name: str,
        source: str,
        *,
        events: Any = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not bus_name or not source:
            raise ValueError("an event bus name and an event source are required")
        self.bus_name = bus_name
        self.source = source
        self._events = events
        self.policy = policy if policy is not None else RetryPolicy(max_attempts=3)

    @property
    def events(self) -> Any:
        if self._events is None:
            self._events = clients.client("events")
        return self._events

    def entry(self, detail: Mapping[str, Any]) -> dict[str, str]:
        return {
            "EventBusName": self.bus_name,
            "Source": self.source,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(dict(detail), separators=(",", ":"), sort_keys=True),
        }

    def publish(self, detail: Mapping[str, Any]) -> str:
        """Put one `OrderReconciled` and return its EventId, or raise `PublishError`."""
        accepted: list[str] = []
        errors: list[str] = []

        def send(pending: Sequence[dict[str, str]]) -> list[dict[str, str]]:
            response = self.events.put_events(Entries=list(pending))
            result = (response.get("Entries") or [{}])[0]
            if int(response.get("FailedEntryCount", 0)) == 0 and result.get("EventId"):
                accepted.append(str(result["EventId"]))
                return []
            errors.append(f"{result.get('ErrorCode', 'NoEventId')}: {result.get('ErrorMessage')}")
            return list(pending)

        if drain(send, [self.entry(detail)], self.policy):
            raise PublishError(
                f"PutEvents did not accept {DETAIL_TYPE} for {detail.get('orderId')!r} after "
                f"{len(errors)} attempt(s); last error {errors[-1]}"
            )
        return accepted[0]
