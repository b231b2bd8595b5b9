"""The PremiumOrderPipe scenario: writes to the orders table, through both pipes, to events.

Input (DESIGN.md): a JSON list of writes, applied in order with boto3 as the account
(unchecked): `{"put": item}`, `{"update": {"key": {...}, "set": {...}}}`,
`{"delete": {"key": {...}}}` with plain JSON values (numbers become `N`, digits as
written). Each write that changes the table puts one record on its stream (INSERT,
MODIFY or REMOVE, with old and new images); then the emulator runs until idle.

The report's `events` are the events put on the component's bus during the run (as
PutEvents recorded them). Accounting, per stream record of the input and per pipe: the
pipe's filters dropped it, or it was forwarded and then
  - published: a domain event on the bus names it as `sourceEventId`, or the handler
    found the transition already published (`duplicate suppressed`, idempotency);
  - skipped with a reason (`record skipped` and its `reason`);
  - dead-lettered by the handler (a letter in the application DLQ names its eventID); or
  - given up on by the pipe (it was read into the letter's `shardId` and its sequence
    number lies in the `DDBStreamBatchInfo` range of a message in that pipe's DLQ).
What the handler did with a record is read from the function's JSON log, the lines
Powertools writes with the record's eventID as correlation id, as an operator would read
CloudWatch Logs (the skip reasons exist nowhere else; the functions must log at INFO, as
every stack here does). Which records the filters dropped comes from the emulator's pipe
(AWS only counts them). A forwarded record with none of these outcomes, a domain event
published twice (same idempotency key) and an event that names no record of the input
are problems.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from moto.sns.models import sns_backends

from emulator.program import ACCOUNT, REGION
from emulator.scenarios.base import Outcome, Scenario, ScenarioInputError
from emulator.services.pipes import PipesService, stream_position, stream_records

if TYPE_CHECKING:
    from emulator.engine import Emulator

TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
PIPE = "aws:pipes/pipe:Pipe"
TOPIC = "aws:sns/topic:Topic"
BUS = "aws:cloudwatch/eventBus:EventBus"
# Pipe role in the component → the domain event its function publishes.
FLOWS = {"standard": "OrderAccepted", "premium": "PremiumOrderShipped"}
# The handler's log messages that say where a record ended.
_LOGGED = {
    "published": "published",
    "duplicate suppressed": "duplicate",
    "record skipped": "skipped",
    "record dead-lettered": "dead_lettered",
    "record failed; reported for retry": "failed",
}
_HELD_BACK = "record held back"


@dataclass(frozen=True)
class StreamRecord:
    """One record the input put on the orders table's stream."""

    event_id: str
    sequence: int
    event_name: str


@dataclass
class Fed:
    """What feeding one input changed, so `outcome` can find its share of everything."""

    emulator: Emulator
    writes: int
    records: list[StreamRecord]
    fates_from: int
    logs_from: dict[str, int]
    notifications_from: int
    events_from: int = 0


@dataclass
class _PipeTally:
    """Where one pipe's share of the input went."""

    forwarded: int = 0
    filtered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def typed(value: Any) -> dict[str, Any]:
    """A plain JSON value as a DynamoDB attribute (numbers exactly as written)."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    serialized: dict[str, Any] = TypeSerializer().serialize(value)
    return serialized


def _item(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not value:
        raise ScenarioInputError(f"{where} must be a non-empty object")
    return {name: typed(v) for name, v in value.items()}


def apply_writes(dynamodb: Any, table: str, writes: Iterable[Any]) -> int:
    """Apply the writes in order; return how many there were."""
    count = 0
    for index, write in enumerate(writes):
        where = f"write {index}"
        if not isinstance(write, dict) or len(write) != 1:
            raise ScenarioInputError(f"{where}: expected one of put/update/delete, got {write!r}")
        ((operation, body),) = write.items()
        if operation == "put":
            dynamodb.put_item(TableName=table, Item=_item(body, f"{where}.put"))
        elif operation == "update":
            if not isinstance(body, dict):
                raise ScenarioInputError(f"{where}.update must be an object")
            key = _item(body.get("key"), f"{where}.update.key")
            values = _item(body.get("set"), f"{where}.update.set")
            names = list(values)
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(names))),
                ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(names)},
                ExpressionAttributeValues={f":v{i}": values[n] for i, n in enumerate(names)},
            )
        elif operation == "delete":
            if not isinstance(body, dict):
                raise ScenarioInputError(f"{where}.delete must be an object")
            dynamodb.delete_item(TableName=table, Key=_item(body.get("key"), f"{where}.delete.key"))
        else:
            raise ScenarioInputError(f"{where}: unknown operation {operation!r}")
        count += 1
    return count


def handler_outcomes(log: str) -> dict[str, tuple[str, str]]:
    """eventID → (outcome, reason) of the last line a handler logged about the record."""
    outcomes: dict[str, tuple[str, str]] = {}
    for line in log.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        message = str(entry.get("message", ""))
        kind = "failed" if message.startswith(_HELD_BACK) else _LOGGED.get(message)
        event_id = entry.get("correlation_id")
        if kind is not None and isinstance(event_id, str):
            outcomes[event_id] = (kind, str(entry.get("reason") or ""))
    return outcomes


def given_up(bodies: Iterable[Any]) -> list[tuple[str, int, int, str]]:
    """(shard, first, last sequence number, condition) of each message in a pipe's DLQ."""
    ranges = []
    for body in bodies:
        if isinstance(body, dict) and isinstance(body.get("DDBStreamBatchInfo"), dict):
            info = body["DDBStreamBatchInfo"]
            condition = str((body.get("context") or {}).get("condition", ""))
            ranges.append(
                (
                    str(info.get("shardId", "")),
                    int(info["startSequenceNumber"]),
                    int(info["endSequenceNumber"]),
                    condition,
                )
            )
    return ranges


class PremiumScenario(Scenario):
    name = "premium"
    component_type = "orderflow:index:PremiumOrderPipe"
    component_name = "premium"
    samples = "samples/premium"

    def demo_inputs(self, root: Path) -> list[Path]:
        """Only the writes file (the folder also holds a raw stream record and a README)."""
        return [root / self.samples / "seed-writes.json"]

    def _name(self, emulator: Emulator, typ: str, role: str) -> str:
        state = self.resource(emulator, typ, role).state
        return str(state.get("name") or state["arn"])

    def stream_arn(self, emulator: Emulator) -> str:
        return str(self.resource(emulator, TABLE, "orders").state["streamArn"])

    def feed(self, emulator: Emulator, path: Path) -> Fed:
        try:
            writes = json.loads(path.read_text(), parse_float=Decimal)
        except ValueError as exc:
            raise ScenarioInputError(f"{path} is not JSON: {exc}") from exc
        if not isinstance(writes, list):
            raise ScenarioInputError(f"{path}: expected a JSON list of writes")
        return self.feed_writes(emulator, writes)

    def feed_writes(self, emulator: Emulator, writes: list[Any]) -> Fed:
        """Apply writes (already parsed) and remember where this input starts."""
        stream = self.stream_arn(emulator)
        first = stream_position(stream, "LATEST")
        fed = self.watch(emulator)
        fed.writes = apply_writes(
            emulator.client("dynamodb"), self._name(emulator, TABLE, "orders"), writes
        )
        fed.records = [
            StreamRecord(r["eventID"], int(r["dynamodb"]["SequenceNumber"]), r["eventName"])
            for r in stream_records(stream, first, stream_position(stream, "LATEST"))
        ]
        return fed

    def watch(self, emulator: Emulator, records: Iterable[StreamRecord] = ()) -> Fed:
        """Start accounting from now for `records` (e.g. stream records being replayed)."""
        topic = self.resource(emulator, TOPIC, "notifications").state["arn"]
        functions = [self._name(emulator, FUNCTION, role) for role in FLOWS]
        return Fed(
            emulator=emulator,
            writes=0,
            records=list(records),
            fates_from=len(PipesService.of(emulator).fates),
            logs_from={f: len(emulator.runtime.get(f).log.getvalue()) for f in functions},
            notifications_from=len(sns_backends[ACCOUNT][REGION].topics[topic].sent_notifications),
            events_from=len(emulator.events.emitted),
        )

    def adjust_report(self, emulator: Emulator, report: dict[str, Any], fed: Fed) -> dict[str, Any]:
        """`events`: what was put on the component's bus (not every bus) during the run."""
        bus = self.resource(emulator, BUS, "bus").state["name"]
        bridge = emulator.events
        events = [
            event
            for event, on in zip(
                bridge.emitted[fed.events_from :], bridge.emitted_on[fed.events_from :], strict=True
            )
            if on == bus
        ]
        return {**report, "events": events}

    def outcome(self, report: dict[str, Any], fed: Fed) -> Outcome:
        emulator = fed.emulator
        name = self.component_name
        ids = {r.event_id for r in fed.records}
        events = [
            e
            for e in report["events"]
            if e.get("detail-type") in FLOWS.values() and isinstance(e.get("detail"), dict)
        ]
        outcome = Outcome(
            label=f"{fed.writes} writes, {len(fed.records)} stream records",
            records_in=len(fed.records),
            stored=0,
            dead_lettered=0,
        )
        published: set[tuple[str, str]] = set()
        for event in events:
            source_id = str(event["detail"].get("sourceEventId"))
            published.add((source_id, event["detail-type"]))
            if source_id in ids:
                outcome.stored += 1
            else:
                outcome.problems.append(
                    f"{event['detail-type']} {event['detail'].get('orderId')} names no record "
                    f"of this input ({source_id})"
                )
        keys = Counter(str(e["detail"].get("idempotencyKey")) for e in events)
        twice = sorted(k for k, n in keys.items() if n > 1)
        if twice:
            outcome.problems.append(f"{len(twice)} domain event(s) published twice: {twice[:3]}")
        letters = {
            str((b.get("source") or {}).get("eventID")): str(b.get("reason"))
            for b in report["queues"][f"{name}-dlq"]
            if isinstance(b, dict)
        }
        fates: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for fate in PipesService.of(emulator).fates[fed.fates_from :]:
            fates[fate.pipe][fate.event_id].add(fate.fate)
        for role, detail_type in FLOWS.items():
            verdicts = self._account_pipe(
                emulator,
                report=report,
                fed=fed,
                role=role,
                detail_type=detail_type,
                published=published,
            )
            pipe_fates = fates[self._name(emulator, PIPE, f"{role}-pipe")]
            self._check_pipe(
                fed,
                role=role,
                verdicts=verdicts,
                pipe_fates=pipe_fates,
                letters=letters,
                outcome=outcome,
            )
        types = Counter(e["detail-type"] for e in events)
        topic = self.resource(emulator, TOPIC, "notifications").state["arn"]
        notes = sns_backends[ACCOUNT][REGION].topics[topic].sent_notifications
        outcome.details.append(
            "events          "
            + (", ".join(f"{t} {n}" for t, n in sorted(types.items())) or "none")
            + f"; SNS notifications {len(notes) - fed.notifications_from}"
        )
        return outcome

    def _account_pipe(
        self,
        emulator: Emulator,
        *,
        report: dict[str, Any],
        fed: Fed,
        role: str,
        detail_type: str,
        published: set[tuple[str, str]],
    ) -> dict[str, tuple[str, str]]:
        """Each forwarded record's outcome in one flow (before the pipe's own verdict)."""
        function = self._name(emulator, FUNCTION, role)
        log = emulator.runtime.get(function).log.getvalue()[fed.logs_from[function] :]
        logged = handler_outcomes(log)
        ranges = given_up(report["queues"][f"{self.component_name}-{role}-pipe-dlq"])
        # A letter's range spans only its shard: other shards' records may lie inside it.
        pipe = PipesService.of(emulator).runners[self._name(emulator, PIPE, f"{role}-pipe")]
        verdicts: dict[str, tuple[str, str]] = {}
        for record in fed.records:
            shard = pipe.shard_id_of(record.sequence)
            inside = [
                c for s, first, last, c in ranges if s == shard and first <= record.sequence <= last
            ]
            kind, reason = logged.get(record.event_id, ("", ""))
            if inside:
                verdicts[record.event_id] = ("given_up", inside[-1])
            elif kind == "published" and (record.event_id, detail_type) not in published:
                verdicts[record.event_id] = ("unpublished", "")
            elif kind:
                verdicts[record.event_id] = (kind, reason)
        return verdicts

    def _check_pipe(
        self,
        fed: Fed,
        *,
        role: str,
        verdicts: dict[str, tuple[str, str]],
        pipe_fates: Mapping[str, set[str]],
        letters: Mapping[str, str],
        outcome: Outcome,
    ) -> None:
        tally = _PipeTally()
        for record in fed.records:
            seen = pipe_fates.get(record.event_id, set())
            where = f"{role} pipe, {record.event_name} record {record.sequence}"
            if not seen:
                outcome.problems.append(f"{where}: never read by the pipe")
                continue
            if "forwarded" not in seen:
                tally.filtered += 1
                continue
            tally.forwarded += 1
            kind, reason = verdicts.get(record.event_id, ("", ""))
            if "lost" in seen:
                outcome.problems.append(f"{where}: lost (the pipe could not dead-letter it)")
            elif kind == "given_up":
                tally.outcomes[f"given up ({reason})"] += 1
                outcome.dead_lettered += 1
                outcome.reasons[f"{role} pipe: {reason}"] += 1
            elif kind == "dead_lettered":
                if record.event_id not in letters:
                    outcome.problems.append(f"{where}: logged as dead-lettered, no letter found")
                    continue
                tally.outcomes[f"dead-lettered ({letters[record.event_id]})"] += 1
                outcome.dead_lettered += 1
                outcome.reasons[letters[record.event_id]] += 1
            elif kind in ("published", "duplicate"):
                tally.outcomes["published" if kind == "published" else "already published"] += 1
            elif kind == "skipped":
                tally.outcomes[f"skipped ({reason})"] += 1
            elif kind == "unpublished":
                outcome.problems.append(f"{where}: logged as published, no event on the bus")
            else:
                outcome.problems.append(f"{where}: forwarded, but no outcome ({kind or 'none'})")
        outcome.details.append(
            f"{role + ' pipe':<16}{tally.forwarded} forwarded, {tally.filtered} filtered out"
            + "".join(f"; {what} {n}" for what, n in sorted(tally.outcomes.items()))
        )
