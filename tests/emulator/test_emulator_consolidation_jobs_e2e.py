"""ConsolidationConsumer end to end: files as spreadsheets export them, and two jobs that tie.

A consolidated CSV written with a UTF-8 byte-order mark and CRLF line endings updates every
chargeback it lists. Two jobs with the same partition date and execution sequence are two
consolidations, not a consolidation and its replay: the one whose consolidation id sorts
last holds every chargeback both list, whichever arrives first, and the tie is reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.cli import run_scenario
from emulator.engine import Emulator
from emulator.scenarios import SCENARIOS
from emulator.scenarios.base import Outcome
from emulator.scenarios.consolidation import expected_attributes
from runtime.consolidation.schema import order_key

pytestmark = pytest.mark.e2e

SCENARIO = SCENARIOS["consolidation"]
BASE = "s3://orderflow-consolidated/consolidated/chargebacks"


def event(date: str, job: str, path: str) -> dict[str, Any]:
    return {
        "event_type": "consolidation_completed",
        "partition_date": date,
        "execution_sequence": 1,
        "total_executions": 4,
        "records_processed": 10,
        "duplicates_removed": 0,
        "output_files": 1,
        "output_format": "csv",
        "output_path": path,
        "execution_time": f"{date}T06:30:00",
        "completed_at": f"{date}T06:45:32+00:00",
        "job_name": job,
    }


def order(message: dict[str, Any]) -> str:
    return order_key(
        message["job_name"],
        message["partition_date"],
        message["execution_sequence"],
        message["output_path"],
    )


def run(
    dev: Emulator, tmp_path: Path, data: dict[str, Any], name: str
) -> tuple[dict[str, Any], Outcome]:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    report, outcome = run_scenario(dev, SCENARIO, path)
    assert outcome.problems == []
    assert report["iam_denied"] == []
    assert report["errors"] == []
    assert all(e["status"] == "SUCCEEDED" for e in report["executions"])
    return report, outcome


def chargebacks(report: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {
        item["chargeback_id"]: item
        for item in report["tables"]["consolidation-chargebacks"]
        if item["chargeback_id"].startswith(prefix)
    }


def letters(report: dict[str, Any], path: str) -> list[dict[str, Any]]:
    return [
        letter
        for letter in report["queues"]["consolidation-dlq"]
        if isinstance(letter, dict)
        and str(letter.get("source", {}).get("file", "")).startswith(
            path.removeprefix("s3://").partition("/")[2]
        )
    ]


def test_a_csv_exported_with_a_bom_and_crlf_updates_every_chargeback(
    dev: Emulator, tmp_path: Path
) -> None:
    message = event("2026-01-05", "export-job", f"{BASE}/year=2026/month=01/day=05")
    ids = [f"EXPORT-{n:03d}" for n in range(12)]
    body = "\ufeffchargeback_id,amount\r\n" + "".join(f"{i},12.50\r\n" for i in ids)
    data = {
        "chargebacks": [{"chargeback_id": i, "status": "open"} for i in ids],
        "objects": {f"{message['output_path']}/part-0000.csv": body},
        "messages": [message],
    }
    report, outcome = run(dev, tmp_path, data, "bom.json")
    assert letters(report, message["output_path"]) == []
    assert "12 of 12 listed carry their consolidation" in outcome.details[1]
    updated = chargebacks(report, "EXPORT-")
    assert len(updated) == 12
    for item in updated.values():
        assert item["consolidation_order"] == order(message)
        assert all(item[k] == v for k, v in expected_attributes(message).items())


@pytest.mark.parametrize("first", ["alpha", "omega"])
def test_two_jobs_with_the_same_date_and_sequence_both_apply_and_one_wins_either_way(
    dev: Emulator, tmp_path: Path, first: str
) -> None:
    date = "2026-01-06" if first == "alpha" else "2026-01-07"
    prefix = f"TIE-{first}-"
    ids = [f"{prefix}{n:03d}" for n in range(8)]
    messages = {
        job: event(date, f"consolidation-{job}", f"{BASE}/{job}/date={date}")
        for job in ("alpha", "omega")
    }
    objects = {
        f"{m['output_path']}/part-0000.csv": "chargeback_id,amount\n"
        + "".join(f"{i},1.00\n" for i in ids)
        for m in messages.values()
    }
    second = "omega" if first == "alpha" else "alpha"
    base = {"chargebacks": [{"chargeback_id": i} for i in ids], "objects": objects}
    report, _ = run(dev, tmp_path, {**base, "messages": [messages[first]]}, f"{first}.json")
    assert {i["consolidation_order"] for i in chargebacks(report, prefix).values()} == {
        order(messages[first])
    }

    invoked = len(dev.lambdas.invocations)
    report, outcome = run(
        dev,
        tmp_path,
        {"chargebacks": [], "objects": {}, "messages": [messages[second]]},
        f"{first}-then-{second}.json",
    )
    # The second job is a consolidation of its own (recorded, run), not a replay.
    assert "1 started a consolidation" in outcome.details[0]
    assert len(report["executions"]) == 1
    winner = max(messages.values(), key=order)
    final = chargebacks(report, prefix)
    assert {i["consolidation_order"] for i in final.values()} == {order(winner)}
    assert {i["consolidation_job_name"] for i in final.values()} == {winner["job_name"]}

    # The tie is said: the updater's batch results count it (won or lost).
    summaries = [
        invocation.payload
        for invocation in dev.lambdas.invocations[invoked:]
        if invocation.function == updater_name(dev) and not invocation.failed
    ]
    assert summaries, "the updater applied no batch for the second consolidation"
    key = "tiesWon" if winner is messages[second] else "tiesLost"
    assert sum(s[key] for s in summaries) == len(ids)


def updater_name(dev: Emulator) -> str:
    return str(dev.stack.one("aws:lambda/function:Function", "consolidation-updater").state["name"])
