"""The ConsolidationConsumer at the seed's scale: 1,250,000 chargebacks in one partition.

Nothing can run 1.25 million DynamoDB updates on this machine in a benchmark's time, so
this is a model, fed with what was measured (`throughput.updater_workers`) and stated
assumptions, each of which a reader can change and recompute by hand:

- one UpdateItem takes 5-10 ms in-region (network + DynamoDB), overlapped across the
  updater's threads;
- an updater invocation is also bounded by CPU: the client's work per call (serialise,
  sign, HTTP, parse; measured here against a local server) on the vCPU share Lambda gives
  its memory (1 vCPU at 1,769 MB, proportionally below);
- DynamoDB on-demand absorbs 4,000 writes/s on a new table and up to the default
  40,000 write units/s per table once it has scaled (or with warm throughput).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from bench.pricing import MILLION, PRICES, Usage, breakdown, cost
from emulator.metering import express_billed_seconds
from orderflow.aws_facts import STEP_FUNCTIONS_EXPRESS_MEMORY_CHUNK_MB

LAMBDA_FULL_VCPU_MB: Final = 1769


@dataclass(frozen=True)
class FanOutSettings:
    """The emulator's consolidation settings (emulator/settings.yaml and the component)."""

    records: int = 1_250_000
    files: int = 10  # the seed's "output_files": 10
    batch_rows: int = 500  # updateBatchSize
    row_concurrency: int = 20  # updateConcurrency: updater invocations at once per file
    file_concurrency: int = 4  # fileConcurrency
    threads: int = 16  # UPDATE_CONCURRENCY of the updater
    memory_mb: int = 512  # the updater's memory
    invocation_overhead_ms: float = 50.0  # Map child start + invoke + handler setup, assumed


@dataclass(frozen=True)
class Assumptions:
    latency_ms: tuple[float, float] = (5.0, 10.0)
    table_writes_per_second: tuple[float, float] = (4_000.0, 40_000.0)
    item_write_units: float = 1.0  # chargeback items stay under 1 KB after the update


def per_invocation_rate(threads: int, latency_ms: float, cpu_ms: float, memory_mb: int) -> float:
    """Updates/s one updater invocation sustains: the lower of its I/O and CPU bounds."""
    io_bound = threads / (latency_ms / 1000)
    vcpu = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    cpu_bound = vcpu / (cpu_ms / 1000) if cpu_ms > 0 else math.inf
    return min(io_bound, cpu_bound)


def scenario(
    settings: FanOutSettings, latency_ms: float, cpu_ms: float, table_wps: float
) -> dict[str, Any]:
    """Wall time, concurrency and bill of one consolidation at one latency and table limit."""
    rate = per_invocation_rate(settings.threads, latency_ms, cpu_ms, settings.memory_mb)
    concurrency = settings.row_concurrency * min(settings.file_concurrency, settings.files)
    offered = concurrency * rate
    achieved = min(offered, table_wps)
    batches = math.ceil(settings.records / settings.batch_rows)
    # When the table is the limit, invocations run longer (throttled calls are retried).
    per_batch_seconds = settings.batch_rows / (achieved / concurrency) + (
        settings.invocation_overhead_ms / 1000
    )
    wall = settings.records / achieved
    usage = Usage(
        # Parent: start, ForEachFile, Consolidated, one start per file child (the _SUCCESS
        # marker included); each file child: start, RouteByFormat, UpdateRows or SkipFile;
        # one transition per Express batch child started.
        standard_transitions=float(3 + 4 * (settings.files + 1) + batches),
        express_requests=float(batches),
        express_gb_seconds=batches
        * STEP_FUNCTIONS_EXPRESS_MEMORY_CHUNK_MB.value
        / 1024
        * express_billed_seconds(per_batch_seconds),
        lambda_requests=float(batches + 1),
        lambda_gb_seconds_arm64=batches * settings.memory_mb / 1024 * per_batch_seconds,
        dynamodb_write_units=settings.records * Assumptions().item_write_units,
    )
    costs = breakdown(usage)
    return {
        "update_latency_ms": latency_ms,
        "table_writes_per_second": table_wps,
        "updates_per_second_per_invocation": round(rate, 1),
        "limited_by": _limit(rate, settings, latency_ms, offered, table_wps),
        "concurrent_invocations": concurrency,
        "concurrent_updates_in_flight": concurrency * settings.threads,
        "updates_per_second": round(achieved),
        "wall_seconds": round(wall),
        "updater_invocations": batches,
        "seconds_per_invocation": round(per_batch_seconds, 2),
        "cost_usd": round(cost(usage), 4),
        "cost_per_million_usd": round(cost(usage) * MILLION / settings.records, 4),
        "breakdown_usd": {k: round(v, 5) for k, v in costs.items() if v},
    }


def _limit(
    rate: float, settings: FanOutSettings, latency_ms: float, offered: float, table: float
) -> str:
    if offered > table:
        return "DynamoDB table write throughput"
    io_bound = settings.threads / (latency_ms / 1000)
    return "updater CPU (botocore per call)" if rate < io_bound else "UpdateItem latency"


def model(measured: dict[str, Any], settings: FanOutSettings | None = None) -> dict[str, Any]:
    """The scale model from `throughput.updater_workers`' measurements."""
    settings = settings or FanOutSettings()
    assumptions = Assumptions()
    # The whole client side of a call (serialise, sign, HTTP, parse) when measured; the
    # stubbed figure (validation only) is a lower bound.
    cpu_ms = float(
        measured.get("http_client_cpu_ms_per_update") or measured["client_cpu_ms_per_update"]
    )
    cases = [
        scenario(settings, latency, cpu_ms, table)
        for table in assumptions.table_writes_per_second
        for latency in assumptions.latency_ms
    ]
    return {
        "records": settings.records,
        "settings": vars(settings),
        "assumptions": {
            "update_latency_ms": list(assumptions.latency_ms),
            "table_writes_per_second": list(assumptions.table_writes_per_second),
            "lambda_vcpu_at_memory": round(min(1.0, settings.memory_mb / LAMBDA_FULL_VCPU_MB), 3),
            "client_cpu_ms_per_update (measured)": cpu_ms,
            "prices": "orderflow.aws_facts (Lambda arm64, Express, Standard, DynamoDB on-demand)",
            "express_memory_mb": STEP_FUNCTIONS_EXPRESS_MEMORY_CHUNK_MB.value,
        },
        "measured_worker": measured,
        "cases": cases,
        "seed_single_invocation_seconds": [
            round(settings.records * latency / 1000) for latency in assumptions.latency_ms
        ],
        "lambda_limit_seconds": 900,
        "dynamodb_write_cost_usd": round(settings.records * PRICES.dynamodb_write_unit, 4),
    }
