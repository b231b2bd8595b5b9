"""The LateDataReconciler scenario: late-record events on the bus, and schedule ticks.

Input (DESIGN.md): a JSON list of `{"event": <EventBridge event>}` and
`{"tick": "schedule"}` items, fed in order, each run until the emulator is idle:
- an event is put on the component's bus with PutEvents, as a producer outside the
  stack would: its `source`, `detail-type`, `detail`, `time` and `resources`
  (EventBridge assigns a new id; the rule starts the Express workflow with the event);
- a tick advances the virtual clock past the sweep threshold to the schedule's next
  occurrence, so everything flagged before it is "pending long enough" for the sweep;
  every occurrence the clock passes fires, as it would in AWS.

Report: the generic one, except `events`: the `OrderReconciled` events a consumer of
the bus receives. The scenario subscribes its own rule and SQS queue to the bus (not the
component's, so not in `queues`) and reports what reached that queue during the run.

Accounting, per input event (by the id PutEvents gave it): reconciled (its ledger entry
names it first seen, and is reconciled), duplicate (the order was already in the ledger:
nothing changed), deferred (flagged, the reconcile step dead-lettered
`reconcile_deferred`; a later tick re-drives it), rejected or flag_failed (a dead letter
with the reason names the event), undelivered (the rule's delivery DLQ holds it). An
event in none of these, an order published more than once in a run, a reconciled order
not published, or a `DAY#` aggregate that is not the sum of its reconciled entries is a
problem. The executions the emulator ran (Express included) tell which path each event
took.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from emulator.report import queue_bodies
from emulator.scenarios.base import Outcome, Scenario, ScenarioInputError
from emulator.services.scheduler import Tick
from emulator.services.stepfunctions import ExecutionRecord

if TYPE_CHECKING:
    from emulator.engine import Emulator

FUNCTION: Final = "aws:lambda/function:Function"
CAPTURE_NAME: Final = "emulator-late-data-reconciled"
"""The scenario's own rule and queue receiving `OrderReconciled` from the bus."""
RECONCILED_DETAIL_TYPE: Final = "OrderReconciled"
SWEEP_COUNTS: Final = ("pending", "reconciled", "published", "failed")
TICK_MARGIN_SECONDS: Final = 1.0
"""Beyond the threshold: pending times have millisecond precision and compare strictly."""


@dataclass
class FedEvent:
    """One input event: the id EventBridge gave it and the execution it started."""

    index: int
    given: dict[str, Any]
    event_id: str | None = None
    refused: str | None = None
    execution: ExecutionRecord | None = None

    @property
    def order_id(self) -> str:
        detail = self.given.get("detail")
        return str(detail.get("orderId")) if isinstance(detail, dict) else "?"


@dataclass
class FedTick:
    """One tick item: the schedule occurrences it fired and their sweep executions."""

    index: int
    ticks: list[Tick]
    executions: list[ExecutionRecord | None] = field(default_factory=list)


@dataclass
class Fed:
    events: list[FedEvent]
    ticks: list[FedTick]
    capture_queue: str
    capture_start: int
    reconciled_events: list[dict[str, Any]] = field(default_factory=list)


def read_input(path: Path) -> list[dict[str, Any]]:
    items = json.loads(path.read_text())
    if not isinstance(items, list):
        raise ScenarioInputError(f"{path}: expected a JSON list of event and tick items")
    for index, item in enumerate(items):
        valid = isinstance(item, dict) and (
            (set(item) == {"event"} and isinstance(item["event"], dict))
            or (set(item) == {"tick"} and item["tick"] == "schedule")
        )
        if not valid:
            raise ScenarioInputError(
                f"{path}: item {index} is neither {{'event': {{...}}}} nor {{'tick': 'schedule'}}"
            )
    return items


def put_entry(event: dict[str, Any], bus: str) -> dict[str, Any]:
    """The PutEvents entry a producer sends for `event` (fields it omits stay omitted)."""
    entry: dict[str, Any] = {"EventBusName": bus}
    if event.get("source") is not None:
        entry["Source"] = event["source"]
    if event.get("detail-type") is not None:
        entry["DetailType"] = event["detail-type"]
    if "detail" in event:
        entry["Detail"] = json.dumps(event["detail"])
    if isinstance(event.get("resources"), list):
        entry["Resources"] = event["resources"]
    if isinstance(event.get("time"), str):
        with contextlib.suppress(ValueError):  # else EventBridge stamps the time it got it
            entry["Time"] = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    return entry


class LateDataScenario(Scenario):
    name = "late-data"
    component_type = "orderflow:index:LateDataReconciler"
    component_name = "late-data"
    samples = "samples/late-data"

    # the component's resources --------------------------------------------------------
    def _environment(self, emulator: Emulator, role: str) -> dict[str, str]:
        state = self.resource(emulator, FUNCTION, role).state
        return dict((state.get("environment") or {}).get("variables") or {})

    def _machine_arn(self, emulator: Emulator) -> str:
        return str(
            self.resource(emulator, "aws:sfn/stateMachine:StateMachine", "workflow").state["arn"]
        )

    def _schedule_arn(self, emulator: Emulator) -> str:
        return str(
            self.resource(emulator, "aws:scheduler/schedule:Schedule", "sweep-schedule").state[
                "arn"
            ]
        )

    def _bus(self, emulator: Emulator) -> str:
        rule = self.resource(emulator, "aws:cloudwatch/eventRule:EventRule", "rule").state
        return str(rule.get("eventBusName") or "default")

    def capture(self, emulator: Emulator) -> str:
        """The scenario's rule → queue receiving `OrderReconciled` (created once); its name."""
        variables = self._environment(emulator, "reconcile")
        bus = variables.get("EVENT_BUS_NAME") or "default"
        events, sqs = emulator.client("events"), emulator.client("sqs")
        try:
            events.describe_rule(Name=CAPTURE_NAME, EventBusName=bus)
            return CAPTURE_NAME
        except ClientError:
            pass
        pattern = {
            "source": [variables.get("EVENT_SOURCE") or "orderflow.reconciliation"],
            "detail-type": [RECONCILED_DETAIL_TYPE],
        }
        rule_arn = events.put_rule(
            Name=CAPTURE_NAME, EventBusName=bus, EventPattern=json.dumps(pattern)
        )["RuleArn"]
        url = sqs.create_queue(QueueName=CAPTURE_NAME)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        events.put_targets(
            Rule=CAPTURE_NAME, EventBusName=bus, Targets=[{"Id": "capture", "Arn": queue_arn}]
        )
        return CAPTURE_NAME

    # feeding --------------------------------------------------------------------------
    def feed(self, emulator: Emulator, path: Path) -> Fed:
        items = read_input(path)
        capture = self.capture(emulator)
        fed = Fed([], [], capture, len(queue_bodies(capture)))
        for index, item in enumerate(items):
            if "event" in item:
                fed.events.append(self._put(emulator, index, item["event"]))
            else:
                fed.ticks.append(self._tick(emulator, index))
        return fed

    def _put(self, emulator: Emulator, index: int, event: dict[str, Any]) -> FedEvent:
        fed = FedEvent(index, event)
        known = len(emulator.states.executions)
        response = emulator.client("events").put_events(
            Entries=[put_entry(event, self._bus(emulator))]
        )
        (result,) = response["Entries"]
        if "EventId" not in result:
            fed.refused = f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"
            return fed
        fed.event_id = str(result["EventId"])
        emulator.run_until_idle()
        machine = self._machine_arn(emulator)
        fed.execution = next(
            (
                record
                for record in emulator.states.executions[known:]
                if record.state_machine_arn == machine
                and record.result is not None
                and isinstance(record.result.input, dict)
                and record.result.input.get("id") == fed.event_id
            ),
            None,
        )
        return fed

    def _tick(self, emulator: Emulator, index: int) -> FedTick:
        threshold = float(
            self._environment(emulator, "sweep").get("SWEEP_THRESHOLD_SECONDS") or 900
        )
        schedule = self._schedule_arn(emulator)
        not_before = emulator.clock.now() + threshold + TICK_MARGIN_SECONDS
        ticks = emulator.scheduler.tick(schedule, not_before=not_before)
        emulator.run_until_idle()
        fed = FedTick(index, [t for t in ticks if t.schedule_arn == schedule])
        by_arn = {record.arn: record for record in emulator.states.executions}
        fed.executions = [by_arn.get(str(t.result.get("executionArn"))) for t in fed.ticks]
        return fed

    # reporting and accounting ---------------------------------------------------------
    def adjust_report(self, emulator: Emulator, report: dict[str, Any], fed: Fed) -> dict[str, Any]:
        """`events`: the `OrderReconciled` events the scenario's subscriber received."""
        fed.reconciled_events = queue_bodies(fed.capture_queue)[fed.capture_start :]
        return {**report, "events": fed.reconciled_events}

    def outcome(self, report: dict[str, Any], fed: Fed) -> Outcome:
        ledger = report["tables"][f"{self.component_name}-ledger"]
        books = Books(
            entries={str(i["pk"]): i for i in ledger if str(i.get("pk", "")).startswith("LATE#")},
            letters=[
                b for b in report["queues"][f"{self.component_name}-dlq"] if isinstance(b, dict)
            ],
            undelivered=report["queues"][f"{self.component_name}-delivery-dlq"],
            published=Counter(
                str((e.get("detail") or {}).get("orderId")) for e in report["events"]
            ),
            outcome=Outcome(
                label=f"{len(fed.events)} event(s), {len(fed.ticks)} tick(s)",
                records_in=len(fed.events),
                stored=0,
                dead_lettered=0,
            ),
        )
        for item in fed.events:
            books.account(item)
        outcome = books.outcome
        for tick in fed.ticks:
            outcome.details.extend(_tick_details(tick))
        repeated = sorted(order for order, count in books.published.items() if count > 1)
        if repeated:
            outcome.problems.append(f"OrderReconciled published more than once for {repeated}")
        outcome.problems.extend(check_aggregates(ledger))
        return outcome


@dataclass
class Books:
    """What one run left where, and the outcome being written from it."""

    entries: dict[str, dict[str, Any]]
    letters: list[dict[str, Any]]
    undelivered: list[Any]
    published: Counter[str]
    outcome: Outcome

    def account(self, item: FedEvent) -> None:
        """Put one input event in exactly one place (or name the problem)."""
        where = f"event {item.index} ({item.order_id})"
        record = item.execution
        if item.refused is not None:
            self.outcome.problems.append(f"{where}: PutEvents refused it ({item.refused})")
        elif record is None:
            self._not_started(item, where)
        elif record.status == "SUCCEEDED":
            output = (record.result.output if record.result else None) or {}
            flagged = ((output.get("flagged") or {}).get("result")) or {}
            path = {
                "rejected": self._rejected,
                "duplicate": self._duplicate,
                "flagged": self._reconciled,
            }.get(str(flagged.get("status")))
            if path is None:
                self.outcome.problems.append(f"{where}: succeeded with unknown result {flagged}")
            else:
                path(item, where, flagged)
        elif record.status == "FAILED" and record.error == "ReconcileDeferred":
            self._deferred(item, where)
        elif record.status == "FAILED" and record.error == "FlagFailed":
            self._flag_failed(item, where)
        else:
            self.outcome.problems.append(
                f"{where}: execution {record.name} ended {record.status} "
                f"({record.error}: {record.cause})"
            )

    def _entry(self, item: FedEvent) -> dict[str, Any] | None:
        return self.entries.get(f"LATE#{item.order_id}")

    def _not_started(self, item: FedEvent, where: str) -> None:
        if any(isinstance(e, dict) and e.get("id") == item.event_id for e in self.undelivered):
            self.outcome.dead_lettered += 1
            self.outcome.reasons["undelivered_event"] += 1
            self.outcome.details.append(f"{where}: undelivered, in the rule's delivery DLQ")
        else:
            self.outcome.problems.append(f"{where}: started no execution and is in no DLQ: lost")

    def _rejected(self, item: FedEvent, where: str, flagged: dict[str, Any]) -> None:
        reason = str(flagged.get("reason"))
        self.outcome.dead_lettered += 1
        self.outcome.reasons[reason] += 1
        self.outcome.details.append(f"{where}: rejected ({reason}), dead-lettered")
        if _letter(self.letters, lambda b: (b.get("source") or {}).get("eventId"), item) is None:
            self.outcome.problems.append(f"{where}: rejected but no dead letter names it")

    def _duplicate(self, item: FedEvent, where: str, flagged: dict[str, Any]) -> None:
        entry = self._entry(item)
        self.outcome.stored += 1
        first = (entry or {}).get("firstSeenEventId")
        self.outcome.details.append(
            f"{where}: duplicate of the entry first seen as event {first}: nothing changed"
        )
        if entry is None:
            self.outcome.problems.append(f"{where}: a duplicate of an entry that is not there")

    def _reconciled(self, item: FedEvent, where: str, flagged: dict[str, Any]) -> None:
        entry = self._entry(item)
        self.outcome.stored += 1
        times = self.published.get(item.order_id, 0)
        self.outcome.details.append(
            f"{where}: reconciled into DAY#{(entry or {}).get('businessDay')}, "
            f"OrderReconciled published {'once' if times == 1 else f'{times} times'}"
        )
        if entry is None or entry.get("status") != "reconciled":
            self.outcome.problems.append(f"{where}: reconciled, but its ledger entry is not")
        elif entry.get("firstSeenEventId") != item.event_id:
            self.outcome.problems.append(f"{where}: its ledger entry names another event")
        if times == 0:
            self.outcome.problems.append(f"{where}: reconciled but no OrderReconciled published")

    def _deferred(self, item: FedEvent, where: str) -> None:
        entry = self._entry(item)
        self.outcome.stored += 1
        self.outcome.details.append(
            f"{where}: reconcile deferred (dead-lettered reconcile_deferred); "
            f"ledger entry now {(entry or {}).get('status')}"
        )
        if entry is None:
            self.outcome.problems.append(f"{where}: deferred, but no ledger entry holds it")

    def _flag_failed(self, item: FedEvent, where: str) -> None:
        self.outcome.dead_lettered += 1
        self.outcome.reasons["flag_failed"] += 1
        self.outcome.details.append(f"{where}: could not be flagged, dead-lettered")
        if _letter(self.letters, lambda b: (b.get("record") or {}).get("id"), item) is None:
            self.outcome.problems.append(f"{where}: flag failed but no dead letter holds it")


def _letter(
    letters: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any], item: FedEvent
) -> dict[str, Any] | None:
    return next((b for b in letters if key(b) == item.event_id), None)


def _tick_details(fed: FedTick) -> list[str]:
    """One line per tick item: the occurrences it fired and what their sweeps did."""
    if not fed.ticks:
        return [f"tick {fed.index}: no schedule occurrence fired"]
    when = ", ".join(t.scheduled_time for t in fed.ticks)
    totals: Counter[str] = Counter()
    lines = []
    for tick, record in zip(fed.ticks, fed.executions, strict=True):
        output = (record.result.output if record and record.result else None) or {}
        swept = (output.get("swept") or {}).get("result")
        if tick.status != "DELIVERED":
            lines.append(
                f"  occurrence {tick.scheduled_time}: {tick.status.lower()} "
                f"({tick.result.get('errorCode')})"
            )
        elif not isinstance(swept, dict):
            status = record.status if record else "not run"
            lines.append(f"  occurrence {tick.scheduled_time}: sweep execution {status}")
        else:
            totals.update({k: int(swept.get(k, 0)) for k in SWEEP_COUNTS})
    summary = ", ".join(f"{k} {totals[k]}" for k in SWEEP_COUNTS)
    return [f"tick {fed.index}: occurrence(s) {when}; swept {summary}", *lines]


def check_aggregates(ledger: list[dict[str, Any]]) -> list[str]:
    """Each `DAY#` aggregate must count exactly the reconciled entries of its day."""
    expected: dict[str, tuple[int, Decimal]] = {}
    for item in ledger:
        if str(item.get("pk", "")).startswith("LATE#") and item.get("status") == "reconciled":
            count, total = expected.get(str(item["businessDay"]), (0, Decimal(0)))
            expected[str(item["businessDay"])] = (count + 1, total + Decimal(str(item["amount"])))
    actual = {
        str(item["pk"])[len("DAY#") :]: (
            int(item.get("orderCount", 0)),
            Decimal(str(item.get("amount", 0))),
        )
        for item in ledger
        if str(item.get("pk", "")).startswith("DAY#")
    }
    return [
        f"DAY#{day}: aggregate {actual.get(day)} but reconciled entries sum to {want}"
        for day, want in sorted(expected.items())
        if actual.get(day) != want
    ] + [
        f"DAY#{day}: aggregate {got} without reconciled entries"
        for day, got in sorted(actual.items())
        if day not in expected
    ]
