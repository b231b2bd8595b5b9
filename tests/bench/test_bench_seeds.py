"""The seed reference designs are valid ASL and are metered as the real dispatcher meters."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench import reference, seeds, workloads
from bench.pricing import cost, per_million
from emulator.metering import Meter
from emulator.states.validation import validate_definition


def _record(index: int, *, contact: bool = True) -> dict[str, Any]:
    record: dict[str, Any] = {
        "order-info": {"orderId": f"O{index}", "item-id": "I", "item-desc": "D", "qty": "1"}
    }
    if contact:
        record["contact-info"] = {"name": "N", "email": f"n{index}@example.com"}
    return record


def _seed001(records: list[dict[str, Any]]) -> tuple[Any, Meter]:
    meter = Meter()
    body = workloads.SalesWorkload(records, Counter()).file_bytes().decode()
    dispatcher = reference.MeteringDispatcher(
        meter,
        {
            seeds.SEED_001_FUNCTION: reference.SeedFunction(
                seeds.seed001_validate, seeds.SEED_LAMBDA_MEMORY_MB
            )
        },
        {("bucket", "incoming/f.json"): body},
    )
    interpreter = reference._interpreter(seeds.seed001_definition(), "seed-001", dispatcher)
    return interpreter.execute(reference._s3_event("bucket", "incoming/f.json"), "tiny"), meter


@pytest.mark.parametrize(
    ("definition", "kind"),
    [(seeds.seed001_definition(), "STANDARD"), (seeds.seed000_definition(), "STANDARD")],
)
def test_seed_definitions_are_valid_asl(definition: dict[str, Any], kind: str) -> None:
    validate_definition(definition, kind)


def test_seed001_runs_a_lambda_and_a_write_per_record() -> None:
    result, meter = _seed001([_record(1), _record(2), _record(3, contact=False)])
    assert result.status == "SUCCEEDED", result.cause
    # start + ReadFile + ProcessRecords, then per record ValidateRecord + PutRecord/SendToDLQ
    assert result.state_transitions == 3 + 3 * 2
    assert sum(meter.lambda_requests.values()) == 3
    assert sum(meter.dynamodb_write_units.values()) == 2  # small items: 1 WRU each
    assert sum(meter.sqs_requests.values()) == 1
    assert meter.lambda_errors[seeds.SEED_001_FUNCTION] == 1


def test_seed001_cannot_read_a_file_over_256_kib() -> None:
    sales = workloads.sales_records(2_000)
    assert len(sales.file_bytes()) > 262_144
    result, _ = _seed001(sales.records)
    assert result.status == "FAILED"
    assert result.error == "States.DataLimitExceeded"
    fits = reference.largest_prefix(sales.records, 0)
    assert 0 < fits < 2_000
    assert _seed001(sales.records[:fits])[0].status == "SUCCEEDED"


def test_seed000_is_three_transitions_per_event() -> None:
    run = reference.run_seed000(workloads.late_events(4))
    assert run.records == 4
    assert run.usage.standard_transitions == 4 * 3
    assert run.usage.lambda_requests == 4
    # 3 transitions x $0.000025 + a request and at least 1 ms at 128 MB, per event.
    assert cost(per_million(run.usage, 4)) == pytest.approx(75.0 + 0.2 + 0.0017, rel=0.01)


def test_seed003_literal_anything_but_excludes_no_test_customer() -> None:
    record = {
        "eventID": "1",
        "eventName": "INSERT",
        "dynamodb": {
            "NewImage": {
                "orderId": {"S": "O1"},
                "status": {"S": "pending"},
                "amount": {"N": "5"},
                "customerEmail": {"S": "qa@test.com"},
            }
        },
    }
    assert reference.matching([record], seeds.SEED_003_STANDARD_FILTER) == [record]
    assert not seeds.seed003_intended(record, "standard")
    assert seeds.seed003_order_processor({"Records": [record]}, None) == {"statusCode": 200}
    with pytest.raises(AttributeError):  # what Pipes actually send: a bare list
        seeds.seed003_order_processor([record], None)  # type: ignore[arg-type]


def test_seed003_pipes_bill_per_matching_record() -> None:
    stream = workloads.order_changes(50)
    run = reference.run_seed003(stream)
    passed = run.details["standard"]["passed_filter"] + run.details["premium"]["passed_filter"]
    assert run.usage.pipes_requests == passed
    assert run.usage.lambda_requests == (
        run.details["standard"]["invocations"] + run.details["premium"]["invocations"]
    )


def test_sequential_updater_model_exceeds_lambda_limit() -> None:
    run = reference.SequentialUpdaterModel().run()
    assert run.details["completes"] is False
    assert run.details["seconds_low"] == 1_250_000 * 5 // 1000 > 900
    assert run.usage.dynamodb_write_units == 1_250_000
