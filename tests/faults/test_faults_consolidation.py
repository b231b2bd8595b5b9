"""ConsolidationConsumer under poison messages, replays and faults; its letters redriven.

The scenario accounts for every Kafka message (started, replayed, skipped, dead-lettered,
discarded to the on-failure bucket) in `outcome.problems`; here every letter must also
be well-formed and carry its Kafka record verbatim.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import conservation
import pytest
from fault_support import FUNCTION, QUEUE, ROOT, Run, clients, deployed, output, run_input, write

from emulator.engine import Emulator
from emulator.faults import Faults
from orderflow_ops.clients import build_redrivers
from orderflow_ops.queue import DeadLetterQueue
from orderflow_ops.replay import list_letters, redrive

pytestmark = pytest.mark.e2e

SEED = json.loads((ROOT / "samples" / "consolidation" / "seed-scenario.json").read_text())
EVENT: dict[str, Any] = SEED["messages"][0]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed("consolidation") as emulator:
        yield emulator


def letters(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in report["queues"]["consolidation-dlq"] if isinstance(b, dict)]


def run_messages(
    emulator: Emulator,
    tmp_path: Path,
    name: str,
    messages: list[Any],
    faults: Callable[[Faults], object] | None = None,
) -> Run:
    scenario = {**SEED, "messages": messages}
    with Faults(emulator) as armed:
        if faults is not None:
            faults(armed)
        run = run_input(emulator, "consolidation", write(tmp_path, name, scenario))
    assert run.outcome.problems == []
    for letter in letters(run.report):
        assert conservation.letter_problems(letter, pipeline="consolidation") == []
        if "offset" in letter["source"]:
            assert letter["record"]["offset"] == letter["source"]["offset"]
    return run


def test_poison_messages_are_dead_lettered_and_replays_change_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    messages = [
        "not json at all",
        "{",
        "[1, 2",
        {"event_type": "consolidation_completed"},
        {**EVENT, "execution_sequence": "two"},
        {**EVENT, "output_path": "s3://elsewhere/prefix"},
        {"event_type": "something_else", "x": 1},
        EVENT,
        EVENT,
    ]
    run = run_messages(emulator, tmp_path, "poison.json", messages)
    reasons = Counter(letter["reason"] for letter in letters(run.report))
    assert sum(reasons.values()) >= 6
    assert reasons["invalid_json"] >= 3


@pytest.mark.parametrize(
    ("label", "arm"),
    [
        ("consumer-error", lambda f: f.lambda_errors("consolidation-consumer", times=1)),
        ("ledger-throttled", lambda f: f.throttle_dynamodb(times=2, table="consolidations")),
        ("dlq-partial", lambda f: f.fail_sqs_sends(times=2, partial=True)),
    ],
)
def test_transient_faults_lose_and_duplicate_nothing(
    emulator: Emulator, tmp_path: Path, label: str, arm: Callable[[Faults], object]
) -> None:
    run_messages(emulator, tmp_path, f"fault-{label}.json", ["garbage", EVENT], arm)


def test_a_bad_base64_record_is_dead_lettered_and_redriven_idempotently(
    emulator: Emulator,
) -> None:
    consumer = output(emulator, FUNCTION, "consolidation-consumer", "name")
    record = {
        "topic": "chargeback-consolidation-events",
        "partition": 0,
        "offset": 900_001,
        "timestamp": 1_700_000_000_000,
        "timestampType": "CREATE_TIME",
        "key": base64.b64encode(b"k").decode(),
        "value": "%%% not base64 %%%",
        "headers": [],
    }
    event = {
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/orderflow-dev/x",
        "records": {"chargeback-consolidation-events-0": [record]},
    }
    answer = emulator.client("lambda").invoke(FunctionName=consumer, Payload=json.dumps(event))
    assert json.loads(answer["Payload"].read()) == {"batchItemFailures": []}
    queue = DeadLetterQueue(
        clients(emulator).sqs, output(emulator, QUEUE, "consolidation-dlq", "url"), wait_seconds=0
    )
    (letter,) = [x for x in list_letters(queue) if x.source.get("offset") == 900_001]
    assert letter.reason == "invalid_base64"
    assert letter.payload == record
    redrivers = build_redrivers(clients(emulator), pipeline="consolidation", function=consumer)
    for _ in range(2):
        (report,) = redrive(queue, redrivers, ids=[letter.id])
        assert (report.status, report.outcome) == ("redriven", "processed")
    again = [x for x in list_letters(queue) if x.id == letter.id]
    assert len(again) == 1  # still poison: dead-lettered again under the same id
