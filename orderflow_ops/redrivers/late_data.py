"""LateDataReconciler letters: the stored event back into the workflow (or onto the bus).

- A rejected or un-flaggable event (the letter's `record` is the EventBridge event)
  starts the reconciliation workflow with it, as the rule would (`via="workflow"`,
  the default), or is put on the bus again (`via="bus"`, going through the rule).
  EventBridge gives a put event a new id and time, so the entry carries the first
  event's in `detail.originalEvent` (`{"id", "time"}`, kept as is when the letter's event
  was itself redriven): the pipeline names its letters and reads the event time from
  it, so redriving by bus twice, or an event failing again, is still the one letter.
  The ledger flags each order once (a conditional put on `LATE#<orderId>`), so a
  redriven duplicate changes nothing.
- A `reconcile_deferred` letter (`record` names the ledger entry) is handed to the
  workflow's Reconcile function, which applies an entry at most once; the schedule's
  sweep would re-drive it too, after its threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from orderflow_ops.messages import Kind, Letter
from orderflow_ops.redrivers.base import (
    Plan,
    event_entry,
    execution_name,
    invoke,
    put_events,
    skip,
    start_execution,
)
from orderflow_ops.redrivers.workflows import function_for, workflow_functions

RECONCILE_DEFERRED = "reconcile_deferred"
ORIGINAL_EVENT = "originalEvent"  # runtime.reconciliation.domain.ORIGINAL_EVENT
Via = Literal["workflow", "bus"]


def with_original_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """`event` whose detail names the first event (`{"id", "time"}`), as a bus redrive sends.

    An event redriven before already names its first event: that one is kept. A detail
    that is not an object is left alone (the pipeline rejects it, with the event's id).
    """
    copy = dict(event)
    detail = copy.get("detail")
    if not isinstance(detail, Mapping) or isinstance(detail.get(ORIGINAL_EVENT), Mapping):
        return copy
    first = {key: copy[key] for key in ("id", "time") if isinstance(copy.get(key), str)}
    if first:
        copy["detail"] = {**detail, ORIGINAL_EVENT: first}
    return copy


class LateDataRedriver:
    """Redrives late-record letters; `via` picks the workflow or the event bus."""

    name = "late-data"

    def __init__(
        self,
        *,
        sfn: Any,
        lambda_client: Any,
        events: Any = None,
        state_machine_arn: str | None,
        event_bus: str = "default",
        via: Via = "workflow",
        reconcile_function: str | None = None,
    ) -> None:
        self.sfn = sfn
        self.lambda_client = lambda_client
        self.events = events
        self.state_machine_arn = state_machine_arn
        self.event_bus = event_bus
        self.via = via
        self._reconcile = reconcile_function

    def accepts(self, letter: Letter) -> bool:
        source = letter.source
        return letter.kind is Kind.DEAD_LETTER and (
            "detailType" in source
            or "eventId" in source
            or "execution" in source
            or "ledgerKey" in source
        )

    def plan(self, letter: Letter, *, force: bool = False) -> Plan:
        record = letter.payload
        if letter.truncated or not isinstance(record, Mapping):
            return skip("the letter holds no whole event")
        if letter.reason == RECONCILE_DEFERRED:
            return self._reconcile_again(dict(record))
        event = dict(record)
        if self.via == "bus":
            if self.events is None:
                return skip("no EventBridge client to put the event with")
            entry = event_entry(with_original_event(event), self.event_bus)
            return Plan(
                "put-events",
                self.event_bus,
                entry,
                note="through the rule (new event id; detail.originalEvent names the first)",
                perform=lambda: put_events(self.events, entry),
            )
        arn = self.state_machine_arn
        if not arn:
            return skip("no workflow: pass --state-machine or --stack-outputs")
        name = execution_name(letter)
        return Plan(
            "start-execution",
            arn,
            event,
            note=f"execution {name}",
            perform=lambda: start_execution(self.sfn, arn, event, name),
        )

    def _reconcile_again(self, flagged: dict[str, Any]) -> Plan:
        function = self._reconcile
        if function is None and self.state_machine_arn:
            functions = workflow_functions(self.sfn, self.state_machine_arn)
            function = self._reconcile = function_for(functions, "Reconcile")
        if function is None:
            return skip("no Reconcile function: pass --state-machine or --function")
        target = function
        return Plan(
            "invoke",
            target,
            flagged,
            note="apply the flagged entry (at most once per order)",
            perform=lambda: invoke(self.lambda_client, target, flagged)[0],
        )
