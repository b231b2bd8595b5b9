"""`consume` against moto: the seed's event, poison, replays, ordering and transient failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from consolidation_support import (
    CLUSTER_ARN,
    JOB,
    SAMPLES,
    SEED_MESSAGE,
    TOPIC,
    ConsolidationAws,
    FakeLambdaContext,
    FlakyClient,
    client_error,
    emf_metrics,
    kafka_event,
    kafka_record,
    message,
    metrics_lines,
)

from runtime.common import clients
from runtime.common.dead_letter import dead_letter_id
from runtime.consolidation import handler
from runtime.consolidation.schema import FIELD_NAMES

pytestmark = pytest.mark.filterwarnings(
    "ignore:No application metrics to publish:UserWarning"  # config errors raise before any
)

SEED_INPUT = {
    "bucket": "bucket",
    "prefix": "consolidated/chargebacks/year=2025/month=11/day=20/",
    "format": "csv",
    "consolidation": {
        "consolidation_status": "completed",
        "consolidation_s3_path": SEED_MESSAGE["output_path"],
        "consolidation_date": "2025-11-20T06:45:32.123456+00:00",
        "consolidation_execution": 2,
        "consolidation_job_name": JOB,
        "output_format": "csv",
        "records_in_consolidation": 1250000,
        "consolidation_order": "2025-11-20#000000002#fc21023addaf39fd",
    },
}
NO_FAILURES: dict[str, Any] = {"batchItemFailures": []}


def _seed_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((SAMPLES / "test_event.json").read_text())
    return event


def test_the_seed_event_records_one_consolidation_and_starts_one_fanout(
    cons_aws: ConsolidationAws,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    json_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    assert handler.consume(_seed_event(), lambda_context) == NO_FAILURES

    [execution] = cons_aws.executions()
    assert execution["input"] == SEED_INPUT
    assert execution["name"].startswith("2025-11-20-000000002-")
    [item] = cons_aws.ledger()
    assert item["status"] == "started"
    assert item["event"] == SEED_MESSAGE
    assert item["execution_name"] == execution["name"]
    assert item["execution_arn"] == execution["arn"]
    assert item["consolidation_order"] == "2025-11-20#000000002#fc21023addaf39fd"
    assert item["correlation_id"] == f"{JOB}/2025-11-20/2"
    assert json.loads(item["source"]) == {
        "topic": TOPIC,
        "partition": 0,
        "offset": 123,
        "eventSourceArn": "arn:aws:kafka:sa-east-1:123456:cluster/test",
    }
    assert item["received_at"].endswith("Z")
    assert cons_aws.dead_letters() == []

    out = capsys.readouterr().out
    assert emf_metrics(out) == {
        "MessagesProcessed": 1.0,
        "MessagesFailed": 0.0,
        "MessagesSkipped": 0.0,
        "MessagesDeadLettered": 0.0,
    }
    assert '"Namespace":"POC-Chargeback/ConsolidationUpdater"' in out.replace(" ", "")
    assert metrics_lines(out) == [
        "METRICS: messages_processed=1, messages_failed=0, chargebacks_updated=0"
    ]
    [recorded] = [log for log in json_logs() if log["message"] == "consolidation recorded"]
    assert recorded["correlation_id"] == f"{JOB}/2025-11-20/2"
    assert recorded["level"] == "INFO"


def _assert_dead_letter(letter: dict[str, Any], record: dict[str, Any], reason: str) -> None:
    source = {
        "topic": record["topic"],
        "partition": record["partition"],
        "offset": record["offset"],
        "eventSourceArn": CLUSTER_ARN,
    }
    assert letter["reason"] == reason
    assert letter["source"] == source
    assert letter["record"] == record  # verbatim, base64 value included
    assert letter["id"] == dead_letter_id("consolidation", source)
    assert letter["pipeline"] == "consolidation"
    assert letter["_attributes"]["reason"] == reason
    assert letter["message"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("%%% definitely not base64 %%%", "invalid_base64"),
        ("bm90IGpzb24gYXQgYWxs", "invalid_json"),  # "not json at all"
        ("//79AA==", "invalid_utf8"),
        ("WzEsMiwzXQ==", "not_an_object"),  # [1,2,3]
        (None, "missing_value"),
    ],
)
def test_undecodable_records_are_dead_lettered_verbatim_and_not_retried(
    cons_aws: ConsolidationAws,
    lambda_context: FakeLambdaContext,
    value: Any,
    reason: str,
) -> None:
    record = kafka_record(value, offset=9, raw_value=True)
    assert handler.consume(kafka_event([record]), lambda_context) == NO_FAILURES
    [letter] = cons_aws.dead_letters()
    _assert_dead_letter(letter, record, reason)
    assert cons_aws.ledger() == []
    assert cons_aws.executions() == []


_BAD_VALUES: dict[str, Any] = {
    "event_type": 1,
    "partition_date": "2025-11-31",
    "execution_sequence": True,
    "total_executions": 1,
    "records_processed": -5,
    "duplicates_removed": "150",
    "output_files": 1.5,
    "output_format": "xml",
    "output_path": "s3:/bucket/consolidated",
    "execution_time": "06:30",
    "completed_at": "2025-11-20T06:45:32",
    "job_name": "",
}


@pytest.mark.parametrize("missing", [True, False], ids=["missing", "invalid"])
@pytest.mark.parametrize("field", FIELD_NAMES)
def test_each_schema_violation_is_dead_lettered_naming_its_field(
    cons_aws: ConsolidationAws, lambda_context: FakeLambdaContext, field: str, missing: bool
) -> None:
    record = kafka_record(message(**{field: ... if missing else _BAD_VALUES[field]}), offset=4)
    assert handler.consume(kafka_event([record]), lambda_context) == NO_FAILURES
    [letter] = cons_aws.dead_letters()
    _assert_dead_letter(letter, record, "missing_field" if missing else "invalid_field")
    assert letter["message"].startswith(f"{field}:")
    assert cons_aws.executions() == []


def test_an_output_path_outside_the_allowed_prefixes_is_dead_lettered(
    cons_aws: ConsolidationAws, lambda_context: FakeLambdaContext
) -> None:
    record = kafka_record(message(output_path="s3://attacker-bucket/consolidated/x"), offset=1)
    assert handler.consume(kafka_event([record]), lambda_context) == NO_FAILURES
    [letter] = cons_aws.dead_letters()
    _assert_dead_letter(letter, record, "output_path_not_allowed")
    assert "s3://attacker-bucket/consolidated/x" in letter["message"]
    assert cons_aws.ledger() == []


def test_other_event_types_are_skipped_and_counted(
    cons_aws: ConsolidationAws,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    records = [
        kafka_record({"event_type": "consolidation_started", "job_name": JOB}, offset=1),
        kafka_record(message(event_type="consolidation_failed"), offset=2),
    ]
    assert handler.consume(kafka_event(records), lambda_context) == NO_FAILURES
    assert cons_aws.dead_letters() == []
    assert cons_aws.ledger() == []
    assert emf_metrics(capsys.readouterr().out)["MessagesSkipped"] == 2.0


def test_a_replay_is_recorded_once_and_started_once(
    cons_aws: ConsolidationAws,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    twice = kafka_event(
        [kafka_record(SEED_MESSAGE, offset=1), kafka_record(SEED_MESSAGE, offset=2)]
    )
    assert handler.consume(twice, lambda_context) == NO_FAILURES
    [item] = cons_aws.ledger()
    # Redelivered by Kafka (same offsets) and re-published (trailing slash) in later batches.
    assert handler.consume(twice, lambda_context) == NO_FAILURES
    republished = message(output_path=SEED_MESSAGE["output_path"] + "/")
    assert handler.consume(kafka_event([kafka_record(republished, offset=3)]), lambda_context) == (
        NO_FAILURES
    )
    assert cons_aws.ledger() == [item]  # received_at and all: untouched
    [execution] = cons_aws.executions()
    assert execution["input"] == SEED_INPUT
    assert cons_aws.dead_letters() == []
    assert emf_metrics(capsys.readouterr().out)["MessagesProcessed"] == 5.0


def test_a_conflicting_replay_keeps_the_first_recording(
    cons_aws: ConsolidationAws, lambda_context: FakeLambdaContext
) -> None:
    first = kafka_record(SEED_MESSAGE, offset=1)
    different = kafka_record(
        message(records_processed=7, completed_at="2025-11-21T00:00Z"), offset=2
    )
    assert handler.consume(kafka_event([first, different]), lambda_context) == NO_FAILURES
    [item] = cons_aws.ledger()
    assert item["event"] == SEED_MESSAGE
    [execution] = cons_aws.executions()
    assert execution["input"] == SEED_INPUT


def test_poison_and_good_records_in_one_batch(
    cons_aws: ConsolidationAws, lambda_context: FakeLambdaContext
) -> None:
    good = [
        kafka_record(message(execution_sequence=1), offset=1),
        kafka_record(message(execution_sequence=3), offset=3),
        kafka_record(message(execution_sequence=4), offset=0, partition=1),
    ]
    poison = [
        kafka_record("garbage!", offset=2, raw_value=True),
        kafka_record(message(output_format="xml"), offset=1, partition=1),
    ]
    assert handler.consume(kafka_event(good + poison), lambda_context) == NO_FAILURES
    assert sorted(
        e["input"]["consolidation"]["consolidation_execution"] for e in cons_aws.executions()
    ) == [1, 3, 4]
    assert sorted(letter["reason"] for letter in cons_aws.dead_letters()) == [
        "invalid_base64",
        "invalid_field",
    ]


def test_a_transient_start_failure_retries_that_offset_and_holds_back_later_ones(
    cons_aws: ConsolidationAws,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = clients.client
    outage = {"on": True}
    flaky = FlakyClient(
        real("stepfunctions"),
        "start_execution",
        should_fail=lambda kw: outage["on"] and '"consolidation_execution":2' in kw["input"],
        error=lambda _: client_error("ThrottlingException", "StartExecution"),
    )
    monkeypatch.setattr(
        clients, "client", lambda service: flaky if service == "stepfunctions" else real(service)
    )
    batch = kafka_event(
        [
            kafka_record(message(execution_sequence=1), offset=10),
            kafka_record(message(execution_sequence=2), offset=11),  # StartExecution throttled
            kafka_record(message(execution_sequence=3), offset=12),  # held back
            kafka_record("poison", offset=13, raw_value=True),  # held back, not yet dead-lettered
            kafka_record(message(execution_sequence=4), offset=0, partition=1),  # unaffected
        ]
    )
    assert handler.consume(batch, lambda_context) == {
        "batchItemFailures": [
            {"itemIdentifier": {"partition": f"{TOPIC}-0", "offset": offset}}
            for offset in (11, 12, 13)
        ]
    }
    started = sorted(
        e["input"]["consolidation"]["consolidation_execution"] for e in cons_aws.executions()
    )
    assert started == [1, 4]
    assert cons_aws.dead_letters() == []
    assert len(cons_aws.ledger()) == 3  # sequence 2 was recorded before its start failed
    out = capsys.readouterr().out
    assert emf_metrics(out)["MessagesFailed"] == 3.0
    assert metrics_lines(out) == [
        "METRICS: messages_processed=2, messages_failed=3, chargebacks_updated=0"
    ]

    # The mapping redelivers from offset 11 (here: the whole batch again), and the outage is over.
    outage["on"] = False
    assert handler.consume(batch, lambda_context) == NO_FAILURES
    started = sorted(
        e["input"]["consolidation"]["consolidation_execution"] for e in cons_aws.executions()
    )
    assert started == [1, 2, 3, 4]
    assert len(cons_aws.ledger()) == 4
    assert [letter["reason"] for letter in cons_aws.dead_letters()] == ["invalid_base64"]


def test_a_dead_letter_that_cannot_be_sent_is_retried(
    cons_aws: ConsolidationAws, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = clients.client
    flaky = FlakyClient(
        real("sqs"),
        "send_message_batch",
        should_fail=lambda _: True,
        error=lambda _: client_error("ServiceUnavailable", "SendMessageBatch", 503),
    )
    monkeypatch.setattr(clients, "client", lambda s: flaky if s == "sqs" else real(s))
    batch = kafka_event([kafka_record("x", offset=5, raw_value=True)])
    assert handler.consume(batch, lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": {"partition": f"{TOPIC}-0", "offset": 5}}]
    }


def test_records_left_when_time_runs_short_are_reported_for_retry(
    cons_aws: ConsolidationAws,
) -> None:
    batch = kafka_event([kafka_record(SEED_MESSAGE, offset=1, partition=p) for p in (0, 1)])
    response = handler.consume(batch, FakeLambdaContext(remaining_ms=5_000))
    assert len(response["batchItemFailures"]) == 2
    assert cons_aws.ledger() == []


def test_missing_configuration_fails_the_invocation(
    cons_aws: ConsolidationAws, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALLOWED_OUTPUT_PREFIXES")
    with pytest.raises(RuntimeError, match="ALLOWED_OUTPUT_PREFIXES"):
        handler.consume(_seed_event(), lambda_context)
