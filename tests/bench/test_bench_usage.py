"""Counting billable operations: transitions from results, meter snapshots to Usage."""

from __future__ import annotations

from typing import Any

import pytest

from bench import scale
from bench.usage import snapshot_delta, standard_transitions, usage_from_meter
from emulator.states import ExecutionResult

MACHINE = "arn:aws:states:us-east-1:123456789012"


def _result(name: str, transitions: int, children: list[Any], express: bool = False) -> Any:
    kind = "express" if express else "execution"
    return ExecutionResult(
        name=name,
        execution_arn=f"{MACHINE}:{kind}:m:{name}",
        status="SUCCEEDED",
        input={},
        output={},
        error=None,
        cause=None,
        history=[],
        state_transitions=transitions,
        children=children,
        virtual_seconds=0.0,
    )


def test_distributed_map_child_starts_are_billed_on_the_parent() -> None:
    express = [_result(f"e{i}", 2, [], express=True) for i in range(3)]
    file_child = _result("file", 3, express)  # a Standard child with 3 Express children
    parent = _result("top", 4, [file_child, _result("marker", 3, [])])
    counted = standard_transitions([parent], "STANDARD")
    assert counted.in_executions == 4 + 3 + 3  # Express children's own states: not billed
    assert counted.child_starts == 2 + 3
    assert counted.billable == 15
    assert counted.express_children == 3


def test_top_level_express_executions_bill_no_transitions() -> None:
    counted = standard_transitions([_result("x", 6, [], express=True)], "EXPRESS")
    assert (counted.billable, counted.express_children) == (0, 0)


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
        "dynamodb_write_units": {"t": 10.0},
        "dynamodb_read_units": {"t": 2.5},
        "sqs_requests": {"q": 4.0},
        "eventbridge_events": {"custom": 9.0, "aws": 1.0},  # the inputs counted here too
        "put_events_entries": {"custom": 7.0},
        "pipes_requests": {"p": 9.0},
        "scheduler_invocations": {"s": 2.0},
        "task_requests": {"arn:aws:states:::lambda:invoke": 3.0},
    }
    usage = usage_from_meter(snapshot, standard=12, architectures={"intel": "x86_64"})
    assert usage.standard_transitions == 12
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
