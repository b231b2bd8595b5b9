"""ConsolidationConsumer with two consolidations updating one chargeback at once.

Two `consolidation_completed` messages for one day (sequences 2 and 3, on two
partitions) list the same chargebacks. The mapping's batches of the two partitions run
side by side, each starts a fan-out workflow, and the two workflows' updater tasks race
on the chargebacks table. Under the seeded scheduler they
interleave at every AWS call; whatever the interleaving, each chargeback ends with the
newer consolidation's attributes (the conditional update on the order key) and every
message is accounted for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_support import output, run_input, write
from race_support import interleaved, seeds, some_seed_interleaves

from emulator.engine import Emulator

pytestmark = pytest.mark.e2e

BUCKET = "orderflow-consolidated"
CHARGEBACKS = 6


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with interleaved("consolidation", 0) as emulator:
        yield emulator


def _message(day: str, sequence: int, path: str) -> dict[str, Any]:
    return {
        "event_type": "consolidation_completed",
        "partition_date": day,
        "execution_sequence": sequence,
        "total_executions": 4,
        "records_processed": CHARGEBACKS,
        "duplicates_removed": 0,
        "output_files": 1,
        "output_format": "csv",
        "output_path": path,
        "execution_time": f"{day}T06:30:00",
        "completed_at": f"{day}T06:45:32.123456+00:00",
        "job_name": "poc-chargeback-dev-chargebacks-consolidation",
    }


def _input(seed: int) -> tuple[dict[str, Any], list[str]]:
    day = f"2031-02-{seed % 28 + 1:02d}"
    ids = [f"CB-R{seed}-{i:04d}" for i in range(CHARGEBACKS)]
    objects: dict[str, str] = {}
    messages = []
    for sequence in (2, 3):
        prefix = f"consolidated/chargebacks/race={seed}/seq={sequence}"
        rows = "".join(f"{cid},{sequence}.{i:02d}\n" for i, cid in enumerate(ids))
        objects[f"s3://{BUCKET}/{prefix}/part-0000.csv"] = "chargeback_id,amount\n" + rows
        objects[f"s3://{BUCKET}/{prefix}/_SUCCESS"] = ""
        messages.append(_message(day, sequence, f"s3://{BUCKET}/{prefix}"))
    chargebacks = [{"chargeback_id": cid, "created_at": f"{day}T05:00:00Z"} for cid in ids]
    return {
        "chargebacks": chargebacks,
        "objects": objects,
        "messages": messages,
        "partitions": 2,
    }, ids


def _consolidate_concurrently(emulator: Emulator, tmp_path: Path, seed: int) -> None:
    scenario, ids = _input(seed)
    run = run_input(emulator, "consolidation", write(tmp_path, f"race-{seed}.json", scenario))

    assert run.outcome.problems == [], f"seed {seed}"
    assert run.report["errors"] == [], f"seed {seed}"
    # One batch per partition, side by side (one batch for both when not interleaving).
    assert run.report["invocations"]["consolidation-consumer"] == 2
    table = output(emulator, "aws:dynamodb/table:Table", "consolidation-chargebacks", "name")
    client = emulator.client("dynamodb")
    newer = f"s3://{BUCKET}/consolidated/chargebacks/race={seed}/seq=3"
    for cid in ids:
        item = client.get_item(TableName=table, Key={"chargeback_id": {"S": cid}})["Item"]
        assert (item["consolidation_execution"]["N"], item["consolidation_s3_path"]["S"]) == (
            "3",
            newer,
        ), (seed, item)


@pytest.mark.parametrize("seed", seeds())
def test_concurrent_consolidations_leave_each_chargeback_at_the_newer_one(
    emulator: Emulator, tmp_path: Path, seed: int
) -> None:
    assert emulator.interleaver is not None
    emulator.interleaver.reseed(seed)
    _consolidate_concurrently(emulator, tmp_path, seed)


def test_the_consolidations_do_interleave(emulator: Emulator, tmp_path: Path) -> None:
    some_seed_interleaves(
        emulator, lambda seed: _consolidate_concurrently(emulator, tmp_path, seed)
    )
