"""The ValidationPipeline scenario: a sales file uploaded as `incoming/<basename>`.

Accounting: every record of the file is either an item in the orders table (by its
`sourceKey` and `recordIndex`) or a record dead letter naming the file and index; a file
that cannot be read as records (garbage, empty) must produce exactly one file-level dead
letter naming it. If the rule could not deliver the file's S3 event, the event in the
delivery dead-letter queue accounts for the whole file (it can be replayed).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from orderflow_ops.scenarios.base import Outcome, PipelineOutputs, Scenario, ScenarioClients
from orderflow_ops.scenarios.reading import queue_bodies, table_items

KEY_PREFIX = "incoming/"


def s3_key_in_event(key: str) -> str:
    """Keys in S3 event notifications are URL-encoded, space as `+`, `/` kept."""
    return quote_plus(key, safe="/")


def count_records(data: bytes) -> int | None:
    """Records in a sales file as the pipeline reads it; None when it is not a record file.

    A JSON array or `{"orders": [...]}` holds its elements; otherwise every non-blank
    line of a file of JSON lines is one record.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return _json_lines(text)
    if isinstance(document, list):
        return len(document)
    if isinstance(document, dict) and isinstance(document.get("orders"), list):
        return len(document["orders"])
    return None


def _json_lines(text: str) -> int | None:
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        for line in lines:
            json.loads(line)
    except ValueError:
        return None
    return len(lines) or None


@dataclass(frozen=True)
class Upload:
    key: str
    records: int | None


class ValidationScenario(Scenario):
    name = "validation"
    samples = "samples/validation"

    def __init__(self, key_prefix: str = KEY_PREFIX) -> None:
        self.key_prefix = key_prefix
        """Where files are uploaded (under the stack's `key_prefix`); `smoke` adds its run."""

    def feed(self, clients: ScenarioClients, outputs: PipelineOutputs, path: Path) -> Upload:
        data = path.read_bytes()
        key = self.key_prefix + path.name
        clients.s3.put_object(Bucket=outputs["bucket_name"], Key=key, Body=data)
        return Upload(key, count_records(data))

    def outcome(self, clients: ScenarioClients, outputs: PipelineOutputs, fed: Upload) -> Outcome:
        wait = clients.wait_seconds
        stored = [
            item
            for item in table_items(clients.dynamodb, outputs["table_name"])
            if item.get("sourceKey") == fed.key
        ]
        letters = [
            body
            for body in queue_bodies(
                clients.sqs, outputs["dead_letter_queue_url"], wait_seconds=wait
            )
            if isinstance(body, dict) and (body.get("source") or {}).get("key") == fed.key
        ]
        # An S3 event the rule could not deliver: the file waits in the delivery DLQ.
        undelivered = [
            event
            for event in queue_bodies(
                clients.sqs, outputs["delivery_dead_letter_queue_url"], wait_seconds=wait
            )
            if isinstance(event, dict)
            and event.get("detail", {}).get("object", {}).get("key") == s3_key_in_event(fed.key)
        ]
        return account(fed, stored, letters, undelivered)


def account(
    fed: Upload,
    stored: list[dict[str, Any]],
    letters: list[dict[str, Any]],
    undelivered: list[Any],
) -> Outcome:
    """Put every record of the upload in exactly one place, or name the problem."""
    record_letters = [b for b in letters if "recordIndex" in b["source"]]
    file_letters = [b for b in letters if "recordIndex" not in b["source"]]
    outcome = Outcome(
        label=fed.key,
        records_in=fed.records if fed.records is not None else 0,
        stored=len(stored),
        dead_lettered=len(letters) + len(undelivered),
        reasons=Counter(
            [str(b.get("reason")) for b in letters] + ["undelivered_event"] * len(undelivered)
        ),
    )
    if undelivered:
        return outcome
    if fed.records is None or file_letters:
        # Dead-lettered whole (records a failed read stored before are extra, not lost).
        if len(file_letters) != 1:
            outcome.problems.append(
                f"expected one dead letter for the whole file, found {len(file_letters)}"
            )
        return outcome
    seen = Counter(
        [int(i["recordIndex"]) for i in stored]
        + [int(b["source"]["recordIndex"]) for b in record_letters]
    )
    missing = sorted(set(range(fed.records)) - set(seen))
    repeated = sorted(index for index, count in seen.items() if count > 1)
    if missing:
        outcome.problems.append(f"{len(missing)} record(s) lost, e.g. indexes {missing[:5]}")
    if repeated:
        outcome.problems.append(f"record(s) both stored and dead-lettered: {repeated[:5]}")
    return outcome
