"""The ConsolidationConsumer scenario: chargebacks, consolidated files, Kafka messages.

Input (DESIGN.md): `{"chargebacks": [items], "objects": {"s3://bucket/key": "text"},
"messages": [value object or raw string, ...]}`, plus an optional `"partitions"` (the
topic's partition count, default 1). Chargebacks go into the component's chargebacks
table, objects into their buckets (created if missing: the consolidated-data bucket is
the caller's, not the stack's), and each message is produced to the mapping's topic on
its cluster (an object as its JSON, a string as is); then the emulator runs until idle.

Accounting, per message (by partition and offset): it started a consolidation (its
ledger item names it as source), replayed one (a valid event whose identity is already
recorded), was skipped (another `event_type`), was dead-lettered (a DLQ letter names
it), or was discarded by the mapping to its on-failure destination. A message still on
the topic (the mapping could not read it) or in none of these places is a problem.
Per consolidation started: every chargeback its files list carries that consolidation's
attributes (or a newer one's), or is dead-lettered as missing.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer

from emulator.scenarios.base import Outcome, Scenario, ScenarioInputError
from emulator.services.msk_mapping import Discarded, MskMapping

if TYPE_CHECKING:
    from emulator.engine import Emulator

TABLE = "aws:dynamodb/table:Table"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
WRITE_BATCH = 25  # BatchWriteItem's limit
SUFFIXES = {"csv": ".csv", "json": ".json", "parquet": ".parquet"}
IDENTITY = ("job_name", "partition_date", "execution_sequence")


@dataclass(frozen=True)
class Produced:
    """One input message as it landed on the topic."""

    index: int
    partition: int
    offset: int
    value: Any


@dataclass
class Fed:
    """What a consolidation input put where."""

    topic: str
    messages: list[Produced]
    objects: dict[str, str]
    mapping: MskMapping
    chargebacks: int


@dataclass
class Tally:
    """Where each message ended, by kind."""

    started: list[dict[str, Any]] = field(default_factory=list)
    replays: int = 0
    skipped: int = 0
    letters: list[dict[str, Any]] = field(default_factory=list)
    discarded: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def read_input(path: Path) -> dict[str, Any]:
    """The input file, checked for the documented shape (numbers kept exact as Decimal)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except ValueError as exc:
        raise ScenarioInputError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioInputError(f"{path}: expected an object with chargebacks/objects/messages")
    shapes = {"chargebacks": list, "objects": dict, "messages": list}
    for key, kind in shapes.items():
        if not isinstance(data.setdefault(key, kind()), kind):
            raise ScenarioInputError(f"{path}: {key!r} must be a JSON {kind.__name__}")
    unknown = sorted(set(data) - set(shapes) - {"partitions"})
    if unknown:
        raise ScenarioInputError(f"{path}: unknown key(s) {unknown}")
    if not all(isinstance(item, dict) and "chargeback_id" in item for item in data["chargebacks"]):
        raise ScenarioInputError(f"{path}: every chargeback must be an object with chargeback_id")
    if not all(isinstance(uri, str) and uri.startswith("s3://") for uri in data["objects"]):
        raise ScenarioInputError(f"{path}: object names must be s3://bucket/key")
    partitions = data.get("partitions", 1)
    if type(partitions) is not int or partitions < 1:
        raise ScenarioInputError(f"{path}: partitions must be a positive integer")
    return data


def _json_value(value: Any) -> Any:
    """A parsed input value back to plain JSON types (Decimal → int/float)."""
    return json.loads(json.dumps(value, default=lambda d: float(d) if d % 1 else int(d)))


class ConsolidationScenario(Scenario):
    name = "consolidation"
    component_type = "orderflow:index:ConsolidationConsumer"
    component_name = "consolidation"
    samples = "samples/consolidation"

    def demo_inputs(self, root: Path) -> list[Path]:
        # test_event.json is an MSK event for running the handler locally, not an input.
        return [root / self.samples / "seed-scenario.json"]

    def mapping(self, emulator: Emulator) -> MskMapping:
        uuid = self.resource(emulator, MAPPING, "mapping").state["uuid"]
        return emulator.kafka.mapping(str(uuid))

    def feed(self, emulator: Emulator, path: Path) -> Fed:
        data = read_input(path)
        table = self.resource(emulator, TABLE, "chargebacks").state["name"]
        put_items(emulator, table, data["chargebacks"])
        put_objects(emulator, data["objects"])
        mapping = self.mapping(emulator)
        cluster, topic = mapping.config.cluster_arn, mapping.config.topic
        if (cluster, topic) not in emulator.kafka.topics or "partitions" in data:
            emulator.kafka.create_topic(cluster, topic, data.get("partitions", 1))
        produced = []
        for index, raw in enumerate(data["messages"]):
            value = raw if isinstance(raw, str) else _json_value(raw)
            message = emulator.kafka.produce(cluster, topic, value)
            produced.append(Produced(index, message.partition, message.offset, value))
        return Fed(topic, produced, dict(data["objects"]), mapping, len(data["chargebacks"]))

    def outcome(self, report: dict[str, Any], fed: Fed) -> Outcome:
        ledger = report["tables"][f"{self.component_name}-consolidations"]
        letters = [
            body
            for body in report["queues"][f"{self.component_name}-dlq"]
            if isinstance(body, dict)
        ]
        tally = account_messages(fed, ledger, letters)
        updated, listed = check_chargebacks(
            tally,
            fed.objects,
            report["tables"][f"{self.component_name}-chargebacks"],
            letters,
        )
        discarded = sum(tally.discarded.values())
        reasons = Counter(str(letter.get("reason")) for letter in tally.letters)
        reasons.update({f"mapping:{k}": v for k, v in tally.discarded.items()})
        mapping = fed.mapping
        return Outcome(
            label=(
                f"{len(fed.messages)} message(s), {fed.chargebacks} chargeback(s), "
                f"{len(fed.objects)} object(s)"
            ),
            records_in=len(fed.messages),
            stored=len(tally.started) + tally.replays + tally.skipped,
            dead_lettered=len(tally.letters) + discarded,
            reasons=reasons,
            problems=tally.problems,
            details=[
                f"messages        {len(tally.started)} started a consolidation, "
                f"{tally.replays} replayed one, {tally.skipped} skipped (other event type), "
                f"{len(tally.letters)} dead-lettered, {discarded} discarded by the mapping",
                f"chargebacks     {updated} of {listed} listed carry their consolidation",
                f"mapping         offset lag {mapping.lag()}, {mapping.last_processing_result}",
            ],
        )


def put_items(emulator: Emulator, table: str, items: list[dict[str, Any]]) -> None:
    """Seed the table (as the emulator: unchecked, unmetered), 25 items per request."""
    serializer = TypeSerializer()
    client = emulator.client("dynamodb")
    for start in range(0, len(items), WRITE_BATCH):
        requests = [
            {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}}
            for item in items[start : start + WRITE_BATCH]
        ]
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def put_objects(emulator: Emulator, objects: Mapping[str, str]) -> None:
    """Create each object, and its bucket when it does not exist yet."""
    s3 = emulator.client("s3")
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    for uri, text in objects.items():
        bucket, _, key = uri[len("s3://") :].partition("/")
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
            existing.add(bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))


def _where(source: Any) -> tuple[Any, Any, Any] | None:
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except ValueError:
            return None
    if not isinstance(source, dict):
        return None
    return (source.get("topic"), source.get("partition"), source.get("offset"))


def _identity(event: Mapping[str, Any]) -> tuple[Any, ...]:
    path = event.get("output_path")
    return (*(event.get(k) for k in IDENTITY), path.rstrip("/") if isinstance(path, str) else path)


def _decoded(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def account_messages(
    fed: Fed, ledger: list[dict[str, Any]], letters: list[dict[str, Any]]
) -> Tally:
    """Put every message of this input in exactly one place, or report it."""
    tally = Tally()
    by_source = {_where(item.get("source")): item for item in ledger}
    recorded = {_identity(item.get("event") or {}) for item in ledger}
    letters_at: dict[Any, list[dict[str, Any]]] = {}
    for letter in letters:
        letters_at.setdefault(_where(letter.get("source")), []).append(letter)
    discarded = {record: entry for entry in fed.mapping.discarded for record in entry.records}
    waiting = 0
    for message in fed.messages:
        where = (fed.topic, message.partition, message.offset)
        found = letters_at.get(where, [])
        item = by_source.get(where)
        dropped = discarded.get(where)
        places = len(found) + (item is not None) + (dropped is not None)
        if places > 1:
            tally.problems.append(f"message {message.index} ended in {places} places")
        if found:
            tally.letters.extend(found)
        elif item is not None:
            tally.started.append(item)
        elif dropped is not None:
            _count_discarded(tally, message, dropped)
        elif message.offset >= fed.mapping.position(message.partition):
            waiting += 1
        else:
            _count_settled(tally, message, recorded)
    if waiting:
        tally.problems.append(
            f"{waiting} message(s) still on the topic, not consumed (offset lag "
            f"{fed.mapping.lag()}): {fed.mapping.last_processing_result}"
        )
    return tally


def _count_discarded(tally: Tally, message: Produced, dropped: Discarded) -> None:
    """The mapping gave up on it: kept in the on-failure destination, or lost."""
    if dropped.destination is None:
        tally.problems.append(
            f"message {message.index} LOST by the mapping ({dropped.condition}): {dropped.error}"
        )
    tally.discarded[dropped.condition] += 1


def _count_settled(tally: Tally, message: Produced, recorded: set[tuple[Any, ...]]) -> None:
    """Consumed without a trace of its own: a skipped event type or a replay, else lost."""
    decoded = _decoded(message.value)
    event_type = decoded.get("event_type") if isinstance(decoded, dict) else None
    if isinstance(event_type, str) and event_type != "consolidation_completed":
        tally.skipped += 1
    elif isinstance(decoded, dict) and _identity(decoded) in recorded:
        tally.replays += 1
    else:
        tally.problems.append(
            f"message {message.index} (partition {message.partition}, offset "
            f"{message.offset}) was consumed but ended nowhere"
        )


def listed_ids(objects: Mapping[str, str], event: Mapping[str, Any]) -> list[str] | None:
    """Chargeback ids the consolidation's files list (None: a format the check cannot read)."""
    fmt = str(event.get("output_format"))
    if fmt not in ("csv", "json"):
        return None
    prefix = str(event.get("output_path", "")).rstrip("/") + "/"
    ids: list[str] = []
    for uri, text in objects.items():
        if not uri.startswith(prefix) or not uri.endswith(SUFFIXES[fmt]):
            continue
        rows: Iterable[Any]
        if fmt == "csv":  # as exported: maybe with a byte-order mark
            rows = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
        else:
            rows = (_decoded(line) for line in text.splitlines() if line.strip())
        ids.extend(
            str(row["chargeback_id"])
            for row in rows
            if isinstance(row, dict) and row.get("chargeback_id") not in (None, "")
        )
    return ids


def expected_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """What the consolidation writes to each chargeback (runtime `ConsolidationAttributes`)."""
    return {
        "consolidation_status": "completed",
        "consolidation_s3_path": event.get("output_path"),
        "consolidation_date": event.get("completed_at"),
        "consolidation_execution": event.get("execution_sequence"),
        "consolidation_job_name": event.get("job_name"),
        "output_format": event.get("output_format"),
        "records_in_consolidation": event.get("records_processed"),
    }


def check_chargebacks(
    tally: Tally,
    objects: Mapping[str, str],
    chargebacks: list[dict[str, Any]],
    letters: list[dict[str, Any]],
) -> tuple[int, int]:
    """(chargebacks at their consolidation, chargebacks listed) over this input's consolidations."""
    table = {str(item.get("chargeback_id")): item for item in chargebacks}
    missing_letters = {
        str((row.get("row") or {}).get("chargeback_id"))
        for letter in letters
        if letter.get("reason") == "chargebacks_missing"
        for row in (letter.get("record") or {}).get("rows", [])
        if isinstance(row, dict)
    }
    current = listed = 0
    for item in tally.started:
        event = item.get("event") or {}
        order = str(item.get("consolidation_order"))
        ids = listed_ids(objects, event)
        if ids is None:
            continue
        listed += len(set(ids))
        wanted = expected_attributes(event)
        stale: list[str] = []
        for identifier in sorted(set(ids)):
            chargeback = table.get(identifier)
            if chargeback is None:
                if identifier not in missing_letters:
                    stale.append(identifier)
                continue
            at = str(chargeback.get("consolidation_order", ""))
            if at == order:
                if any(chargeback.get(k) != v for k, v in wanted.items()):
                    stale.append(identifier)
                else:
                    current += 1
            elif at < order:
                stale.append(identifier)
        if stale:
            tally.problems.append(
                f"{len(stale)} chargeback(s) of consolidation {order} not updated as the event "
                f"says (and not dead-lettered), e.g. {stale[:5]}"
            )
    return current, listed
