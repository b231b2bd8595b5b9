"""Record decoding, partition ordering and the partial-failure reply; ledger naming (pure)."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from consolidation_support import SEED_MESSAGE, TOPIC, kafka_event, kafka_record, message
from hypothesis import given
from hypothesis import strategies as st

from runtime.consolidation.kafka import (
    INVALID_BASE64,
    INVALID_JSON,
    INVALID_UTF8,
    MISSING_VALUE,
    BatchFailures,
    Decoded,
    MalformedEventError,
    Poison,
    decode_value,
    records_of,
)
from runtime.consolidation.ledger import (
    execution_arn,
    execution_name,
    idempotency_key,
    workflow_input,
)
from runtime.consolidation.schema import ConsolidationEvent, parse_event


def test_records_are_grouped_by_partition_and_sorted_by_offset() -> None:
    event = kafka_event(
        [
            kafka_record({}, offset=7, partition=1),
            kafka_record({}, offset=5, partition=0),
            kafka_record({}, offset=3, partition=1),
            kafka_record({}, offset=4, partition=0),
        ]
    )
    records = records_of(event)
    assert [(r.partition, r.offset) for r in records] == [(1, 3), (1, 7), (0, 4), (0, 5)]
    assert records[0].partition_id == f"{TOPIC}-1"
    assert records[0].source("arn:x") == {
        "topic": TOPIC,
        "partition": 1,
        "offset": 3,
        "eventSourceArn": "arn:x",
    }


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"records": []},
        {"records": {"t-0": {}}},
        {"records": {"t-0": [{"topic": "t", "partition": "0", "offset": 1}]}},
        {"records": {"t-0": [{"topic": "t", "partition": 0}]}},
        {"records": {"t-0": ["not a record"]}},
    ],
)
def test_a_malformed_envelope_fails_the_invocation(event: dict[str, Any]) -> None:
    with pytest.raises(MalformedEventError):
        records_of(event)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, MISSING_VALUE),
        (42, INVALID_BASE64),
        ("!!!not base64!!!", INVALID_BASE64),
        ("eyJ", INVALID_BASE64),  # truncated: bad padding
        (base64.b64encode(b"\xff\xfe\x00").decode(), INVALID_UTF8),
        (base64.b64encode(b"not json").decode(), INVALID_JSON),
        (base64.b64encode(b"").decode(), INVALID_JSON),
        (base64.b64encode(b'{"a": NaN}').decode(), INVALID_JSON),
        (base64.b64encode(b"[" * 100_000).decode(), INVALID_JSON),
    ],
)
def test_undecodable_values_are_poison(value: Any, reason: str) -> None:
    decoded = decode_value({"value": value})
    assert isinstance(decoded, Poison)
    assert decoded.reason == reason


def test_the_seed_value_decodes_to_the_seed_message() -> None:
    raw = kafka_record(SEED_MESSAGE, offset=1)
    assert decode_value(raw) == Decoded(SEED_MESSAGE)


def test_a_failure_holds_back_and_reports_every_later_offset_of_its_partition() -> None:
    records = records_of(
        kafka_event(
            [kafka_record({}, offset=o, partition=0) for o in (10, 11, 12, 13)]
            + [kafka_record({}, offset=o, partition=1) for o in (3, 4)]
        )
    )
    failures = BatchFailures()
    assert failures.response(records) == {"batchItemFailures": []}
    failures.fail(records[1])  # partition 0, offset 11
    assert [failures.held_back(r) for r in records] == [False, True, True, True, False, False]
    assert failures.response(records) == {
        "batchItemFailures": [
            {"itemIdentifier": {"partition": f"{TOPIC}-0", "offset": offset}}
            for offset in (11, 12, 13)
        ]
    }


def _event(**overrides: Any) -> ConsolidationEvent:
    event = parse_event(message(**overrides))
    assert isinstance(event, ConsolidationEvent)
    return event


def test_the_key_ignores_a_trailing_slash_and_everything_but_its_four_fields() -> None:
    key = idempotency_key(_event())
    assert key == idempotency_key(_event(output_path=SEED_MESSAGE["output_path"] + "/"))
    assert key == idempotency_key(_event(records_processed=1, completed_at="2025-11-21T00:00Z"))
    for overrides in (
        {"job_name": "other"},
        {"partition_date": "2025-11-21"},
        {"execution_sequence": 3},
        {"output_path": "s3://bucket/consolidated/other"},
    ):
        assert idempotency_key(_event(**overrides)) != key


@given(st.text(min_size=1, max_size=255).filter(str.strip), st.integers(1, 999_999_999))
def test_execution_names_are_valid_step_functions_names(job: str, sequence: int) -> None:
    event = _event(job_name=job, execution_sequence=sequence, total_executions=sequence)
    name = execution_name(event, idempotency_key(event))
    assert len(name) <= 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name)


def test_execution_arn_and_workflow_input() -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:fanout"
    assert execution_arn(machine, "n") == "arn:aws:states:us-east-1:123456789012:execution:fanout:n"
    assert workflow_input(_event()) == workflow_input(_event())  # byte-stable
    assert '"prefix":"consolidated/chargebacks/year=2025/month=11/day=20/"' in workflow_input(
        _event()
    )
