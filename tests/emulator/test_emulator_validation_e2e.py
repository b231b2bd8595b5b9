"""ValidationPipeline end to end: every record of every file is stored or dead-lettered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from emulator_support import SEED_FILE, sales_records

from emulator.cli import run_scenario
from emulator.engine import Emulator
from emulator.scenarios import SCENARIOS
from emulator.scenarios.base import Outcome

pytestmark = pytest.mark.e2e

SCENARIO = SCENARIOS["validation"]


def _run(dev: Emulator, path: Path) -> tuple[dict[str, Any], Outcome]:
    report, outcome = run_scenario(dev, SCENARIO, path)
    assert outcome.problems == []
    assert report["iam_denied"] == []
    assert report["errors"] == []
    assert [e["status"] for e in report["executions"]] == ["SUCCEEDED"]
    return report, outcome


def _letters(report: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [b for b in report["queues"]["validation-dlq"] if b["source"]["key"] == key]


def test_the_seed_file_stores_one_record_and_dead_letters_the_other(dev: Emulator) -> None:
    report, outcome = _run(dev, SEED_FILE)
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (2, 1, 1)
    (item,) = [
        i
        for i in report["tables"]["validation-orders"]
        if i["sourceKey"] == "incoming/mock-data.json"
    ]
    assert item["orderId"] == "1"
    assert item["quantity"] == 1  # a plain int, not a Decimal
    (letter,) = _letters(report, "incoming/mock-data.json")
    assert letter["reason"] == "missing_contact_info"
    assert letter["record"] == json.loads(SEED_FILE.read_text())["orders"][1]
    assert report["invocations"] == {"validation-inspect": 1, "validation-validate": 1}
    assert [e["detail-type"] for e in report["events"]] == ["Object Created"]


def test_a_run_is_metered(dev: Emulator) -> None:
    meter = dev.meter
    assert sum(meter.lambda_requests.values()) >= 2
    assert all(value > 0 for value in meter.lambda_gb_seconds.values())
    assert sum(meter.state_transitions.values()) > 0
    assert sum(meter.express_requests.values()) >= 1  # the Distributed Map's child
    assert sum(meter.express_gb_seconds.values()) > 0
    assert sum(meter.dynamodb_write_units.values()) >= 1
    assert sum(meter.sqs_requests.values()) >= 1
    assert meter.eventbridge_events["aws"] >= 1


def test_twenty_thousand_records_are_all_accounted_for(dev: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "big-day.json"
    path.write_text(json.dumps(sales_records(20_000)))
    report, outcome = _run(dev, path)
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (20_000, 15_000, 5_000)
    assert report["invocations"]["validation-validate"] == 20  # batches of 1000


def test_a_big_orders_object_is_read_from_its_copy_keeping_every_record_s_source_and_index(
    dev: Emulator, tmp_path: Path
) -> None:
    """No unverified ASL field: InspectFile copies the `orders` array (a 600 KiB file, read in
    chunks) to the work bucket and the Map reads that; each record still names its file."""
    records = sales_records(3_000)
    for record in records:
        record["order-info"]["orderId"] = "big-object-" + record["order-info"]["orderId"]
    path = tmp_path / "big-object.json"
    path.write_text(json.dumps({"orders": records}, indent=1))
    assert path.stat().st_size > 8 * 64 * 1024
    report, outcome = _run(dev, path)
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (3_000, 2_250, 750)
    key = "incoming/big-object.json"
    letters = _letters(report, key)
    assert sorted(letter["source"]["recordIndex"] for letter in letters) == list(range(0, 3_000, 4))
    assert all(letter["record"] == records[letter["source"]["recordIndex"]] for letter in letters)
    stored = [i for i in report["tables"]["validation-orders"] if i["sourceKey"] == key]
    assert len(stored) == 2_250
    work = dev.stack.output_of("aws:s3/bucket:Bucket", "validation-work", "bucket")
    copies = dev.client("s3").list_objects_v2(Bucket=work, Prefix="normalized/")["Contents"]
    assert copies


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("lines.jsonl", "\n".join(json.dumps(r) for r in sales_records(9)) + "\n", (6, 3)),
        ("array.json", json.dumps(sales_records(5)), (3, 2)),
    ],
)
def test_json_lines_and_bare_arrays(
    dev: Emulator, tmp_path: Path, name: str, content: str, expected: tuple[int, int]
) -> None:
    path = tmp_path / name
    path.write_text(content)
    _, outcome = _run(dev, path)
    assert (outcome.stored, outcome.dead_lettered) == expected


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("garbage.json", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not_utf8"),
        ("prose.json", b"Dear team, the orders are attached.", "not_json"),
        ("truncated.json", b'{"orders": [{"order-info": ', "not_json"),
        ("empty.json", b"", "empty_file"),
    ],
)
def test_unreadable_files_become_one_dead_letter_naming_the_file(
    dev: Emulator, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    report, outcome = _run(dev, path)
    key = f"incoming/{name}"
    (letter,) = _letters(report, key)
    assert letter["reason"] == reason
    assert letter["source"]["bucket"] == dev.stack.output_of(
        "aws:s3/bucket:Bucket", "validation-bucket", "bucket"
    )
    assert "recordIndex" not in letter["source"]
    assert outcome.stored == 0
    assert report["invocations"]["validation-validate"] == 0
