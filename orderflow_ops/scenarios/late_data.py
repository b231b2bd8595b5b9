"""The LateDataReconciler scenario: late-record events on the bus, and schedule ticks.

Input (DESIGN.md): a JSON list of `{"event": <EventBridge event>}` and
`{"tick": "schedule"}` items, fed in order:
- an event is put on the stack's bus (`event_bus_name` output) with PutEvents, as a
  producer outside the stack would: its `source`, `detail-type`, `detail`, `time` and
  `resources` (EventBridge assigns a new id; the rule starts the workflow with it);
- a tick is the schedule firing once. AWS's Scheduler cannot be made to fire on demand,
  so on AWS the sweep is started as the schedule would start it: the schedule's target
  and input are read with `GetSchedule` (from the `schedule_arn` output) and the target
  workflow is started with them (StartSyncExecution for an Express workflow, whose
  executions cannot be listed afterwards). It sweeps what has been pending past the
  threshold at that moment; the deployed schedule sweeps the rest later. The emulator
  fires its own Scheduler instead (the schedule's role, retries and DLQ included).

Accounting, per input event (by the id PutEvents gave it), from what the stack keeps
(Express executions cannot be listed, so never from them): the ledger entry that names
the event first seen (reconciled, and published when its outbox `publishedEventId` is
set; deferred while flagged with a `reconcile_deferred` letter; dead-lettered when the
day total could not take it), a dead letter naming the event (rejected with its reason,
or `flag_failed`), the order's entry first seen as another event (a duplicate: nothing
changed), or the rule's delivery DLQ (undelivered). Anything else is not accounted for
yet (AWS may still be working) and, once the wait is over, lost. Every `DAY#` aggregate
must be the sum of its reconciled entries.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from botocore.exceptions import ClientError

from orderflow.aws_facts import SCHEDULER_SCHEDULE_ARN_PREFIX, STEP_FUNCTIONS_SYNC_START_TYPES
from orderflow_ops.scenarios.base import (
    Outcome,
    PipelineOutputs,
    Scenario,
    ScenarioClients,
    ScenarioInputError,
)
from orderflow_ops.scenarios.reading import queue_bodies, table_items

SWEEP_COUNTS: Final = ("pending", "reconciled", "published", "failed")
STANDARD_POLL_SECONDS: Final = 2.0
STANDARD_WAIT_SECONDS: Final = 600.0
"""How long a tick waits for a Standard sweep execution to end (Express answers at once)."""


@dataclass
class PutEvent:
    """One input event: the id EventBridge gave it (or why PutEvents refused it)."""

    index: int
    given: dict[str, Any]
    event_id: str | None = None
    refused: str | None = None

    @property
    def order_id(self) -> str:
        detail = self.given.get("detail")
        return str(detail.get("orderId")) if isinstance(detail, dict) else "?"


@dataclass(frozen=True)
class SweepRun:
    """One occurrence of the schedule: was the sweep started, how did it end, what it did."""

    scheduled_time: str
    delivered: bool
    """The workflow was started (else `error` says why: a schedule DLQ or a refused call)."""
    error: str | None = None
    status: str = "not run"
    """The sweep execution's status."""
    swept: dict[str, Any] | None = None
    """The sweep step's result (`pending`, `reconciled`, `published`, `failed`)."""


@dataclass
class TickFed:
    """One tick item and the occurrences it fired."""

    index: int
    runs: list[SweepRun] = field(default_factory=list)


@dataclass
class Fed:
    events: list[PutEvent]
    ticks: list[TickFed]
    published: Counter[str] | None = None
    """`OrderReconciled` events seen by a subscriber per order, when one listened (the
    emulator's does); without one, publication is read from the ledger's outbox."""


Tick = Callable[[ScenarioClients, PipelineOutputs], list[SweepRun]]


def read_input(path: Path) -> list[dict[str, Any]]:
    try:
        items = json.loads(path.read_text())
    except ValueError as exc:
        raise ScenarioInputError(f"{path} is not JSON: {exc}") from exc
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


def schedule_name(schedule_arn: str) -> tuple[str, str]:
    """(group, name) from `arn:aws:scheduler:<region>:<account>:schedule/<group>/<name>`."""
    _, _, resource = schedule_arn.partition(SCHEDULER_SCHEDULE_ARN_PREFIX.value)
    group, _, name = resource.partition("/")
    if not group or not name:
        raise ScenarioInputError(f"{schedule_arn} is not a schedule ARN")
    return group, name


def start_as_the_schedule(clients: ScenarioClients, outputs: PipelineOutputs) -> list[SweepRun]:
    """One sweep, started with the schedule's own target and input (the AWS tick)."""
    group, name = schedule_name(outputs["schedule_arn"])
    target = clients.scheduler.get_schedule(Name=name, GroupName=group)["Target"]
    machine, payload = str(target["Arn"]), str(target.get("Input") or "{}")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        kind = clients.sfn.describe_state_machine(stateMachineArn=machine).get("type")
        if kind in STEP_FUNCTIONS_SYNC_START_TYPES.value:
            answer = clients.sfn.start_sync_execution(stateMachineArn=machine, input=payload)
        else:
            arn = clients.sfn.start_execution(stateMachineArn=machine, input=payload)
            answer = _ended(clients.sfn, arn["executionArn"])
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return [SweepRun(now, delivered=False, error=str(error.get("Code")))]
    output = json.loads(answer["output"]) if answer.get("output") else {}
    swept = (output.get("swept") or {}).get("result") if isinstance(output, dict) else None
    return [
        SweepRun(
            now,
            delivered=True,
            status=str(answer.get("status")),
            swept=swept if isinstance(swept, dict) else None,
        )
    ]


def _ended(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """A Standard execution's description once it is no longer running (or at the limit)."""
    deadline = time.monotonic() + STANDARD_WAIT_SECONDS
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described.get("status") != "RUNNING" or time.monotonic() >= deadline:
            return described
        time.sleep(STANDARD_POLL_SECONDS)


def _nothing() -> None:
    """AWS works on its own between two inputs."""


class LateDataScenario(Scenario):
    name = "late-data"
    samples = "samples/late-data"

    def __init__(
        self, tick: Tick = start_as_the_schedule, between: Callable[[], object] = _nothing
    ):
        self.tick = tick
        """How a tick item fires the schedule (the emulator passes its own Scheduler)."""
        self.between = between
        """Run after each item (the emulator runs until idle, so items keep their order)."""

    def feed(self, clients: ScenarioClients, outputs: PipelineOutputs, path: Path) -> Fed:
        items = read_input(path)
        bus = outputs["event_bus_name"]
        fed = Fed([], [])
        for index, item in enumerate(items):
            if "event" in item:
                fed.events.append(_put(clients, bus, index, item["event"]))
            else:
                fed.ticks.append(TickFed(index, self.tick(clients, outputs)))
            self.between()
        return fed

    def outcome(self, clients: ScenarioClients, outputs: PipelineOutputs, fed: Fed) -> Outcome:
        wait = clients.wait_seconds
        ledger = table_items(clients.dynamodb, outputs["ledger_table_name"])
        letters = queue_bodies(clients.sqs, outputs["dead_letter_queue_url"], wait_seconds=wait)
        undelivered = queue_bodies(
            clients.sqs, outputs["delivery_dead_letter_queue_url"], wait_seconds=wait
        )
        return account(fed, ledger, letters, undelivered)


def _put(clients: ScenarioClients, bus: str, index: int, event: dict[str, Any]) -> PutEvent:
    fed = PutEvent(index, event)
    (result,) = clients.events.put_events(Entries=[put_entry(event, bus)])["Entries"]
    if "EventId" in result:
        fed.event_id = str(result["EventId"])
    else:
        fed.refused = f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"
    return fed


def account(
    fed: Fed, ledger: list[dict[str, Any]], letters: list[Any], undelivered: list[Any]
) -> Outcome:
    """Put every input event in exactly one place, or name the problem."""
    books = Books(
        entries={str(i["pk"]): i for i in ledger if str(i.get("pk", "")).startswith("LATE#")},
        letters=[b for b in letters if isinstance(b, dict)],
        undelivered=undelivered,
        published=fed.published,
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
        outcome.details.extend(tick_details(tick))
    if fed.published is not None:
        repeated = sorted(order for order, count in fed.published.items() if count > 1)
        if repeated:
            outcome.problems.append(f"OrderReconciled published more than once for {repeated}")
    outcome.problems.extend(check_aggregates(ledger))
    return outcome


@dataclass
class Books:
    """What the stack holds, and the outcome being written from it."""

    entries: dict[str, dict[str, Any]]
    letters: list[dict[str, Any]]
    undelivered: list[Any]
    published: Counter[str] | None
    outcome: Outcome

    def account(self, item: PutEvent) -> None:
        """Put one input event in exactly one place (or name the problem)."""
        where = f"event {item.index} ({item.order_id})"
        if item.refused is not None:
            self.outcome.problems.append(f"{where}: PutEvents refused it ({item.refused})")
            return
        entry = self.entries.get(f"LATE#{item.order_id}")
        letter = self._letter_naming(item)
        if entry is not None and entry.get("firstSeenEventId") == item.event_id:
            self._first_seen(item, where, entry)
        elif letter is not None:
            self._dead_lettered(where, letter)
        elif entry is not None:
            self.outcome.stored += 1
            self.outcome.details.append(
                f"{where}: duplicate of the entry first seen as event "
                f"{entry.get('firstSeenEventId')}: nothing changed"
            )
        elif any(isinstance(e, dict) and e.get("id") == item.event_id for e in self.undelivered):
            self.outcome.dead_lettered += 1
            self.outcome.reasons["undelivered_event"] += 1
            self.outcome.details.append(f"{where}: undelivered, in the rule's delivery DLQ")
        else:
            self.outcome.problems.append(
                f"{where}: in neither the ledger nor a dead-letter queue: lost"
            )

    def _letter_naming(self, item: PutEvent) -> dict[str, Any] | None:
        """The dead letter of a rejected event (or of one that could not be flagged)."""
        for letter in self.letters:
            source, record = letter.get("source") or {}, letter.get("record") or {}
            if item.event_id in (source.get("eventId"), record.get("id")):
                return letter
        return None

    def _dead_lettered(self, where: str, letter: dict[str, Any]) -> None:
        reason = str(letter.get("reason"))
        self.outcome.dead_lettered += 1
        self.outcome.reasons[reason] += 1
        if reason == "flag_failed":
            self.outcome.details.append(f"{where}: could not be flagged, dead-lettered")
        else:
            self.outcome.details.append(f"{where}: rejected ({reason}), dead-lettered")

    def _first_seen(self, item: PutEvent, where: str, entry: dict[str, Any]) -> None:
        status, key = entry.get("status"), str(entry["pk"])
        deferred = any(
            b.get("reason") == "reconcile_deferred"
            and (b.get("source") or {}).get("ledgerKey") == key
            for b in self.letters
        )
        if status == "reconciled":
            self._reconciled(item, where, entry, deferred=deferred)
        elif status == "flagged" and deferred:
            self.outcome.stored += 1
            self.outcome.details.append(
                f"{where}: reconcile deferred (dead-lettered reconcile_deferred); "
                "ledger entry now flagged"
            )
        elif status == "flagged":
            self.outcome.problems.append(f"{where}: flagged, not reconciled (yet)")
        else:
            letter = next(
                (b for b in self.letters if key in json.dumps(b.get("source") or {})), None
            )
            if letter is None:
                self.outcome.problems.append(f"{where}: ledger entry {status}, no dead letter")
            else:
                self._dead_lettered(where, letter)

    def _reconciled(
        self, item: PutEvent, where: str, entry: dict[str, Any], *, deferred: bool
    ) -> None:
        self.outcome.stored += 1
        day = f"{where}: reconciled into DAY#{entry.get('businessDay')}"
        if self.published is not None:
            times = self.published.get(item.order_id, 0)
            said = "once" if times == 1 else f"{times} times"
        else:
            times = 1 if entry.get("publishedEventId") else 0
            said = "once" if times else "not yet"
        if times == 0 and deferred:
            # Publishing failed after the day was counted: the outbox keeps the event and
            # the next sweep publishes it (the deferral letter says so).
            self.outcome.details.append(
                f"{day}, OrderReconciled waiting in the outbox "
                "(dead-lettered reconcile_deferred; the sweep publishes it)"
            )
            return
        self.outcome.details.append(f"{day}, OrderReconciled published {said}")
        if times == 0:
            self.outcome.problems.append(f"{where}: reconciled but no OrderReconciled published")


def tick_details(fed: TickFed) -> list[str]:
    """One line per tick item: the occurrences it fired and what their sweeps did."""
    if not fed.runs:
        return [f"tick {fed.index}: no schedule occurrence fired"]
    when = ", ".join(run.scheduled_time for run in fed.runs)
    totals: Counter[str] = Counter()
    lines = []
    for run in fed.runs:
        if not run.delivered:
            lines.append(f"  occurrence {run.scheduled_time}: not started ({run.error})")
        elif run.swept is None:
            lines.append(f"  occurrence {run.scheduled_time}: sweep execution {run.status}")
        else:
            totals.update({k: int(run.swept.get(k, 0)) for k in SWEEP_COUNTS})
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
