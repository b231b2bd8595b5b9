"""Turn what the emulator counted (`emulator.metering.Meter`) into `Usage`.

One conversion for our pipelines and the seed references alike, so both are priced from
the same counters. The meter bills what AWS bills (Standard transitions with one per
Distributed Map child start, DynamoDB index writes and failed conditional writes, Express
duration in 100 ms steps, log bytes, SNS publishes): nothing is recounted here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.pricing import Usage

Snapshot = Mapping[str, Mapping[str, float]]
# Meter counters priced below, or only explanatory (errors, task calls, failed conditional
# writes, whose units are already in the write units).
_PRICED_OR_INTERNAL = frozenset(
    {
        "lambda_requests",
        "lambda_gb_seconds",
        "lambda_errors",
        "state_transitions",
        "express_requests",
        "express_gb_seconds",
        "task_requests",
        "dynamodb_write_units",
        "dynamodb_index_write_units",
        "dynamodb_failed_conditional_writes",
        "dynamodb_read_units",
        "sqs_requests",
        "eventbridge_events",
        "pipes_requests",
        "put_events_entries",
        "sns_requests",
        "cloudwatch_log_bytes",
    }
)


def snapshot_delta(after: Snapshot, before: Snapshot) -> dict[str, dict[str, float]]:
    """Counters of `after` minus those of `before` (what one run added)."""
    delta: dict[str, dict[str, float]] = {}
    for name, counters in after.items():
        base = before.get(name, {})
        delta[name] = {
            key: value - base.get(key, 0.0)
            for key, value in counters.items()
            if value - base.get(key, 0.0)
        }
    return delta


def _total(snapshot: Snapshot, name: str) -> float:
    return float(sum(snapshot.get(name, {}).values()))


def usage_from_meter(
    snapshot: Snapshot,
    *,
    architectures: Mapping[str, str] | None = None,
    unpriced: Mapping[str, float] | None = None,
) -> Usage:
    """`Usage` from a meter snapshot (or delta).

    `architectures` maps function names to `arm64`/`x86_64` (missing: arm64, the
    project's default).
    """
    arch = architectures or {}
    gb_seconds = snapshot.get("lambda_gb_seconds", {})
    arm = sum(v for k, v in gb_seconds.items() if arch.get(k, "arm64") == "arm64")
    x86 = sum(v for k, v in gb_seconds.items() if arch.get(k, "arm64") != "arm64")
    events = snapshot.get("eventbridge_events", {})
    # What EventBridge bills is the workload's PutEvents entries; `eventbridge_events` also
    # counts events the emulator itself put on a bus (the inputs), so it is the fallback
    # for meters that predate `put_events_entries` only.
    put = snapshot.get("put_events_entries")
    custom = float(put.get("custom", 0.0)) if put is not None else float(events.get("custom", 0.0))
    extra: dict[str, float] = {
        "eventbridge_aws_service_events_free": float(events.get("aws", 0.0)),
    }
    # Counters the price table has no line for (Scheduler, ...) are reported as counts.
    for name in snapshot:
        if name not in _PRICED_OR_INTERNAL:
            extra[name] = _total(snapshot, name)
    extra.update(unpriced or {})
    return Usage(
        standard_transitions=_total(snapshot, "state_transitions"),
        express_requests=_total(snapshot, "express_requests"),
        express_gb_seconds=_total(snapshot, "express_gb_seconds"),
        lambda_requests=_total(snapshot, "lambda_requests"),
        lambda_gb_seconds_arm64=float(arm),
        lambda_gb_seconds_x86_64=float(x86),
        dynamodb_write_units=_total(snapshot, "dynamodb_write_units")
        + _total(snapshot, "dynamodb_index_write_units"),
        dynamodb_read_units=_total(snapshot, "dynamodb_read_units"),
        sqs_requests=_total(snapshot, "sqs_requests"),
        eventbridge_custom_events=custom,
        pipes_requests=_total(snapshot, "pipes_requests"),
        sns_requests=_total(snapshot, "sns_requests"),
        cloudwatch_log_bytes=_total(snapshot, "cloudwatch_log_bytes"),
        unpriced={k: v for k, v in extra.items() if v},
    )


def per_function(snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    """Lambda requests and GB-seconds per function (for the details of a run)."""
    requests = snapshot.get("lambda_requests", {})
    gb_seconds = snapshot.get("lambda_gb_seconds", {})
    return {
        name: {"requests": int(requests[name]), "gb_seconds": round(gb_seconds.get(name, 0.0), 4)}
        for name in sorted(requests)
    }
