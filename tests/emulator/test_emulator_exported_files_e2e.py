"""ValidationPipeline end to end: sales files as people export them are read normally.

A UTF-8 byte-order mark, CRLF line endings and blank lines, in JSON arrays, in
`{"orders": [...]}` objects and in JSON Lines; an upper-case `ORDERS.JSON`. Every record
is stored or dead-lettered with its own index, exactly as for the clean file; a key under
the prefix without one of the `key_suffixes` starts an execution that reads nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from emulator_support import sales_records

from emulator.cli import run_scenario
from emulator.engine import Emulator
from emulator.scenarios import SCENARIOS
from emulator.scenarios.base import Outcome

pytestmark = pytest.mark.e2e

SCENARIO = SCENARIOS["validation"]
BOM = b"\xef\xbb\xbf"


def run(dev: Emulator, path: Path) -> tuple[dict[str, Any], Outcome]:
    report, outcome = run_scenario(dev, SCENARIO, path)
    assert outcome.problems == []
    assert report["iam_denied"] == []
    assert report["errors"] == []
    assert [e["status"] for e in report["executions"]] == ["SUCCEEDED"]
    return report, outcome


def stored(report: dict[str, Any], key: str) -> dict[int, dict[str, Any]]:
    return {
        int(item["recordIndex"]): item
        for item in report["tables"]["validation-orders"]
        if item["sourceKey"] == key
    }


def letters(report: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [b for b in report["queues"]["validation-dlq"] if b["source"]["key"] == key]


def jsonl(records: list[dict[str, Any]], newline: bytes = b"\n") -> bytes:
    return b"".join(json.dumps(r).encode() + newline for r in records)


def records(name: str, count: int = 8) -> list[dict[str, Any]]:
    """Seed-shaped records whose orderIds are this file's own (every 4th lacks contact info).

    Own ids, because an orderId another file already stored is not simply stored again.
    """
    found = sales_records(count)
    for record in found:
        info = record["order-info"]
        info["orderId"] = f"{name}-{info['orderId']}"
    return found


def export(name: str) -> bytes:
    """The file `name`, as an exporting tool writes it (6 records stored, 2 dead-lettered)."""
    rows = records(name)
    noisy = {
        "bom-array.json": lambda: BOM + json.dumps(rows, indent=1).replace("\n", "\r\n").encode(),
        "bom-orders.json": lambda: BOM + json.dumps({"orders": rows}).encode(),
        "bom-lines.jsonl": lambda: BOM + jsonl(rows),
        "crlf-lines.jsonl": lambda: jsonl(rows, b"\r\n"),
        "blank-lines.jsonl": lambda: (
            b"\r\n"
            + jsonl(rows[:3], b"\r\n")
            + b"\r\n  \r\n"
            + jsonl(rows[3:], b"\r\n")
            + b"\r\n\r\n"
        ),
        "ORDERS.JSON": lambda: json.dumps(rows).encode(),
        "Export.JsonL": lambda: BOM + jsonl(rows, b"\r\n") + b"\r\n",
    }
    return noisy[name]()


CASES = (
    "bom-array.json",
    "bom-orders.json",
    "bom-lines.jsonl",
    "crlf-lines.jsonl",
    "blank-lines.jsonl",
    "ORDERS.JSON",
    "Export.JsonL",
)


@pytest.mark.parametrize("name", CASES)
def test_an_exported_file_is_read_like_a_clean_one(
    dev: Emulator, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_bytes(export(name))
    report, outcome = run(dev, path)
    key = f"incoming/{name}"
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (8, 6, 2)
    items = stored(report, key)
    assert sorted(items) == [1, 2, 3, 5, 6, 7]  # each record keeps its index ...
    for index, item in items.items():  # ... and is the record of that index
        assert item["orderId"] == f"{name}-order-{index}"
    assert sorted(b["source"]["recordIndex"] for b in letters(report, key)) == [0, 4]
    assert all(b["reason"] == "missing_contact_info" for b in letters(report, key))


def test_a_big_json_lines_file_with_blank_lines_at_its_end_is_read(
    dev: Emulator, tmp_path: Path
) -> None:
    """Bigger than InspectFile's 64 KiB look at the head: the blank lines are in the tail."""
    path = tmp_path / "big-export.jsonl"
    path.write_bytes(jsonl(records("big-export", 1500), b"\r\n") + b"\r\n\r\n")
    assert path.stat().st_size > 64 * 1024
    _, outcome = run(dev, path)
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (1500, 1125, 375)


def test_a_key_without_a_sales_suffix_is_ignored_not_read(dev: Emulator) -> None:
    bucket = dev.stack.output_of("aws:s3/bucket:Bucket", "validation-bucket", "bucket")
    executions = len(dev.states.executions)
    dev.client("s3").put_object(Bucket=bucket, Key="incoming/notes.txt", Body=b"call Ada")
    dev.run_until_idle()
    (execution,) = dev.states.executions[executions:]
    assert execution.status == "SUCCEEDED"
    assert execution.result is not None
    output = execution.result.output
    assert (output["file"]["format"], output["file"]["reason"]) == (
        "ignored",
        "suffix_not_accepted",
    )
    queue = dev.stack.output_of("aws:sqs/queue:Queue", "validation-dlq", "url")
    bodies = [
        json.loads(m["Body"])
        for m in dev.client("sqs")
        .receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
        .get("Messages", [])
    ]
    assert not [b for b in bodies if b["source"].get("key") == "incoming/notes.txt"]
