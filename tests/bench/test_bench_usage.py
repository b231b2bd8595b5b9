"""Meter snapshots to Usage: every counter the meter bills is priced, nothing recounted."""

from __future__ import annotations

import pytest

from bench import scale
from bench.usage import snapshot_delta, usage_from_meter


def test_snapshot_delta_keeps_what_a_run_added() -> None:
    before = {"sqs_requests": {"q": 2.0}, "lambda_requests": {"f": 1.0}}
    after = {"sqs_requests": {"q": 5.0, "r": 1.0}, "lambda_requests": {"f": 1.0}}
    assert snapshot_delta(after, before) == {
        "sqs_requests": {"q": 3.0, "r": 1.0},
        "lambda_requests": {},
    }


def test_usage_from_meter_prices_by_architecture_and_event_kind() -> None:
    snapshot = {
        "lambda_requests": {"arm": 2.0, "intel": 1.0},
        "lambda_gb_seconds": {"arm": 1.5, "intel": 0.5},
        "express_requests": {"m": 3.0},
        "express_gb_seconds": {"m": 0.3},
        "state_transitions": {"m": 12.0},
        "dynamodb_write_units": {"t": 10.0},
        "dynamodb_index_write_units": {"t/by-status": 3.0},
        "dynamodb_failed_conditional_writes": {"t": 2.0},  # already in the write units
        "sns_requests": {"topic": 5.0},
        "cloudwatch_log_bytes": {"/aws/lambda/f": 2048.0},
        "dynamodb_read_units": {"t": 2.5},
        "sqs_requests": {"q": 4.0},
        "eventbridge_events": {"custom": 9.0, "aws": 1.0},  # the inputs counted here too
        "put_events_entries": {"custom": 7.0},
        "pipes_requests": {"p": 9.0},
        "scheduler_invocations": {"s": 2.0},
        "task_requests": {"arn:aws:states:::lambda:invoke": 3.0},
    }
    usage = usage_from_meter(snapshot, architectures={"intel": "x86_64"})
    assert usage.standard_transitions == 12
    assert usage.dynamodb_write_units == 10 + 3  # index writes are write request units
    assert (usage.sns_requests, usage.cloudwatch_log_bytes) == (5, 2048)
    assert (usage.lambda_gb_seconds_arm64, usage.lambda_gb_seconds_x86_64) == (1.5, 0.5)
    assert usage.lambda_requests == 3
    assert usage.eventbridge_custom_events == 7
    assert usage.pipes_requests == 9
    assert usage.unpriced == {
        "eventbridge_aws_service_events_free": 1.0,
        "scheduler_invocations": 2.0,
    }


def test_updater_rate_is_the_lower_of_io_and_cpu() -> None:
    # 16 threads at 10 ms: 1,600/s of I/O; 0.5 ms of CPU on 512/1769 of a vCPU: ~579/s.
    rate = scale.per_invocation_rate(threads=16, latency_ms=10, cpu_ms=0.5, memory_mb=512)
    assert rate == pytest.approx(512 / 1769 / 0.0005)
    assert scale.per_invocation_rate(16, 10, 0.0, 512) == pytest.approx(1_600)


def test_scale_case_arithmetic() -> None:
    settings = scale.FanOutSettings(records=1_000_000, files=10)
    case = scale.scenario(settings, latency_ms=10, cpu_ms=0.0, table_wps=4_000)
    # 80 invocations x 1,600/s offered, the table takes 4,000/s: 250 s.
    assert case["limited_by"] == "DynamoDB table write throughput"
    assert case["wall_seconds"] == 250
    assert case["updater_invocations"] == 2_000
    assert case["breakdown_usd"]["dynamodb_writes"] == pytest.approx(0.625)
