"""The invariant every fault and replay test checks: each input record ends in exactly one place.

A pipeline adapter turns a run's report into `Ending`s, one per place a record reached
(an item in the target table, an event on the bus, a dead letter), keyed by the input
record's identity. Then, for every input record:

- exactly one distinct ending: not none (lost) and not two (stored and dead-lettered, or
  stored under two keys). Copies of one dead letter (same deterministic id) and rewrites
  of one item (same key) are one ending: that is what idempotent replays produce;
- no ending for a record that was not input (an invented or duplicated output);
- every dead letter is well-formed: the pipeline's fields, a machine-readable `reason`,
  a human `message`, a `source`, a timestamp, a deterministic id, and the payload
  verbatim (or, when it had to be truncated, the SHA-256 of the original).

A file-level dead letter (a file the pipeline gave up on as a whole) is the one place of
every record of that file; records of it stored before the failure are then ignored
(rewritten identically when the file is redriven, after which the strict rule holds).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import conservation_tally

from runtime.common.dead_letter import compact_json, dead_letter_id

LETTER_FIELDS = ("id", "pipeline", "reason", "message", "source", "record", "timestamp")
REASON = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Ending:
    """One place an input record reached."""

    record: Hashable
    place: str
    """`target` or `dlq`."""
    ref: str
    """The item key, event id or dead-letter id (equal refs are one ending)."""


@dataclass
class Conservation:
    """The result of checking one run; `problems` empty means the invariant holds."""

    records: int
    stored: int
    dead_lettered: int
    problems: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def check(self) -> Conservation:
        assert self.problems == [], "\n".join(self.problems[:20])
        return self


def conserve(
    expected: Iterable[Hashable],
    endings: Iterable[Ending],
    letters: Sequence[Mapping[str, Any]] = (),
    *,
    pipeline: str,
) -> Conservation:
    """Check that every `expected` record has exactly one distinct ending."""
    wanted = list(expected)
    places: dict[Hashable, set[tuple[str, str]]] = defaultdict(set)
    for ending in endings:
        places[ending.record].add((ending.place, ending.ref))
    problems: list[str] = []
    lost = [r for r in wanted if not places.get(r)]
    if lost:
        problems.append(f"{len(lost)} record(s) lost, e.g. {lost[:5]}")
    doubled = {r: sorted(places[r]) for r in wanted if len(places.get(r, ())) > 1}
    if doubled:
        sample = list(doubled.items())[:5]
        problems.append(f"{len(doubled)} record(s) in more than one place, e.g. {sample}")
    known = set(wanted)
    extra = sorted(str(r) for r in places if r not in known)
    if extra:
        problems.append(f"{len(extra)} ending(s) for records never input, e.g. {extra[:5]}")
    distinct: dict[str, Mapping[str, Any]] = {}
    for letter in letters:
        distinct.setdefault(str(letter.get("id")), letter)
        problems += letter_problems(letter, pipeline=pipeline)
    for letter_id, letter in distinct.items():
        copies = [x for x in letters if str(x.get("id")) == letter_id]
        if any(_same(x, letter) is False for x in copies):
            problems.append(f"dead letter {letter_id} has copies with different content")
    stored = {ref for r in wanted for place, ref in places.get(r, ()) if place == "target"}
    reasons: dict[str, int] = defaultdict(int)
    for letter in distinct.values():
        reasons[str(letter.get("reason"))] += 1
    conservation_tally.add(
        pipeline,
        records=len(wanted),
        stored=len(stored),
        dead_lettered=len(distinct),
        lost=len(lost),
        duplicated=len(doubled) + len(extra),
    )
    return Conservation(
        records=len(wanted),
        stored=len(stored),
        dead_lettered=len(distinct),
        problems=problems,
        reasons=dict(reasons),
    )


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Copies of one letter agree on everything but when they were written."""
    return {k: v for k, v in a.items() if k not in ("timestamp", "message")} == {
        k: v for k, v in b.items() if k not in ("timestamp", "message")
    }


def letter_problems(letter: Mapping[str, Any], *, pipeline: str) -> list[str]:
    """What is wrong with one dead letter's shape (empty when it is well-formed)."""
    where = f"dead letter {letter.get('id')}"
    missing = [name for name in LETTER_FIELDS if name not in letter]
    if missing:
        return [f"{where} lacks {missing}"]
    problems: list[str] = []
    if letter["pipeline"] != pipeline:
        problems.append(f"{where} names pipeline {letter['pipeline']!r}, not {pipeline!r}")
    if not isinstance(letter["reason"], str) or not REASON.fullmatch(letter["reason"]):
        problems.append(f"{where} has no machine-readable reason: {letter['reason']!r}")
    if not isinstance(letter["message"], str) or not letter["message"].strip():
        problems.append(f"{where} has no message")
    if not isinstance(letter["source"], dict) or not letter["source"]:
        problems.append(f"{where} has no source")
    try:
        datetime.fromisoformat(str(letter["timestamp"]).replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"{where} has no ISO-8601 timestamp: {letter['timestamp']!r}")
    return problems


def payload_matches(letter: Mapping[str, Any], original: Any) -> bool:
    """The letter carries `original` verbatim, or (truncated) its SHA-256."""
    record = letter.get("record")
    if isinstance(record, dict) and record.get("truncated") is True and "sha256" in record:
        digest = hashlib.sha256(compact_json(original).encode("ascii")).hexdigest()
        return bool(record["sha256"] == digest)
    return bool(record == original) and type(record) is type(original)


# validation ------------------------------------------------------------------------
def parse_records(data: bytes) -> list[Any] | None:
    """The records of a sales file as the pipeline reads them (None: not a record file)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            return [json.loads(line) for line in lines] or None
        except ValueError:
            return None
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("orders"), list):
        return list(document["orders"])
    return None


def _names_file(source: Any, key: str) -> bool:
    """A letter's source names the file: directly, or as the S3 event of `inspect_failed`."""
    if not isinstance(source, dict):
        return False
    if source.get("key") == key:
        return True
    event = source.get("event")
    detail = event.get("detail") if isinstance(event, dict) else None
    obj = detail.get("object") if isinstance(detail, dict) else None
    return isinstance(obj, dict) and unquote_plus(str(obj.get("key"))) == key


def uploaded_version(report: Mapping[str, Any], key: str) -> str | None:
    """The version id S3 gave `key` in this run (from its `Object Created` event)."""
    for event in report.get("events", []):
        obj = (event.get("detail") or {}).get("object") or {}
        if (
            event.get("detail-type") == "Object Created"
            and unquote_plus(str(obj.get("key"))) == key
        ):
            version = obj.get("version-id")
            return str(version) if version else None
    return None


def validation(
    report: Mapping[str, Any],
    key: str,
    data: bytes,
    *,
    pipeline: str = "validation",
    table: str = "validation-orders",
    queue: str = "validation-dlq",
    delivery_queue: str = "validation-delivery-dlq",
    version: str | None = None,
) -> Conservation:
    """Account for every record of the file uploaded as `key` (see the module docstring).

    With `version`, only that object version's letters and items count: uploading a file
    again is a new input (new version, new letter ids) whose items replace the old ones.
    """
    records = parse_records(data)
    letters = [
        b
        for b in report["queues"][queue]
        if isinstance(b, dict)
        and _names_file(b.get("source"), key)
        and (version is None or b["source"].get("versionId", version) == version)
    ]
    file_letters = [b for b in letters if "recordIndex" not in b["source"]]
    # An S3 event the rule could not deliver waits, for the whole file, in the rule's DLQ.
    undelivered = [
        str(event.get("id"))
        for event in report["queues"].get(delivery_queue, [])
        if isinstance(event, dict)
        and unquote_plus(str(event.get("detail", {}).get("object", {}).get("key"))) == key
        and (version is None or event["detail"]["object"].get("version-id", version) == version)
    ]
    items = [
        i
        for i in report["tables"][table]
        if i.get("sourceKey") == key
        and (version is None or i.get("sourceVersionId", version) == version)
    ]
    extra: list[str] = []
    for letter in letters:
        source = letter["source"]
        if "bucket" in source and letter["id"] != dead_letter_id(pipeline, source):
            extra.append(f"dead letter {letter['id']} is not the deterministic id of its source")
    if records is None or file_letters or undelivered:
        # The file is one unit: exactly one distinct file letter (or parked event) is its place.
        units = {str(b["id"]) for b in file_letters} | set(undelivered)
        endings = [Ending("file", "dlq", unit) for unit in units]
        result = conserve(["file"], endings, file_letters, pipeline=pipeline)
        for letter in file_letters:
            if letter["record"] is not None:
                result.problems.append(f"file letter {letter['id']} carries a record")
        result.problems += extra
        return result
    endings = [Ending(int(i["recordIndex"]), "target", str(i["orderId"])) for i in items]
    endings += [Ending(int(b["source"]["recordIndex"]), "dlq", str(b["id"])) for b in letters]
    result = conserve(range(len(records)), endings, letters, pipeline=pipeline)
    for letter in letters:
        index = int(letter["source"]["recordIndex"])
        if 0 <= index < len(records) and not payload_matches(letter, records[index]):
            result.problems.append(f"dead letter {letter['id']} does not carry record {index}")
    keys = [str(i["orderId"]) for i in items]
    if len(keys) != len(set(keys)):
        result.problems.append("the table holds one orderId twice")
    result.problems += extra
    return result
