"""Turn results.json into the printed table and bench/README.md (generated, never edited).

Everything shown is read from the results document, so the README cannot disagree with
the JSON it was generated from; `python -m bench --readme` regenerates it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from bench.pricing import PRICES, SERVICES

COMPONENTS: Final = {
    "validation": "ValidationPipeline",
    "premium": "PremiumOrderPipe",
    "late-data": "LateDataReconciler",
    "consolidation": "ConsolidationConsumer",
}
SEED_DESIGNS: Final = {
    "validation": "seed 001: Standard workflow, inline Map, one Lambda + putItem/sendMessage "
    "per record",
    "premium": "seed 003: two pipes with the seed's filters, batch size 100, print-only Lambdas",
    "late-data": "seed 000: one Standard execution (Pass + Lambda) per event",
    "consolidation": "seed 002: one Lambda invocation updating every chargeback in turn "
    "(a model: it cannot finish)",
}
WHY: Final = {
    "validation": "The seed pays two Standard transitions and a Lambda request per record and "
    "cannot read a file over 256 KiB; orderflow reads the file in the Map and validates 1,000 "
    "records per invocation, so its bill is essentially the DynamoDB writes.",
    "premium": "The seed's handlers only print: no event published, no idempotency record, no "
    "notification, and (as written) they fail on every Pipes batch. orderflow's extra cost is "
    "that work: EventBridge events and DynamoDB idempotency writes. Both pay Pipes for the "
    "same records.",
    "late-data": "The seed runs a Standard workflow (3 transitions) per event and stores "
    "nothing; orderflow runs Express and pays for its ledger transaction and OrderReconciled "
    "event instead.",
    "consolidation": "Both designs pay one write unit per chargeback, which dominates; the "
    "seed's single invocation cannot finish within Lambda's 15 minutes (its price is a floor), "
    "orderflow adds the fan-out workflow's transitions and finishes in minutes.",
}
ASSUMPTIONS: Final = [
    "Prices: the facts table orderflow.aws_facts (us-east-1 list prices, no free tier). "
    "Lambda GB-seconds at the arm64 rate (the stack's architecture; the seed references are "
    "priced at arm64 too, in their favour).",
    "Lambda GB-seconds = measured handler duration on this machine (init included, rounded "
    "up to 1 ms) x configured memory. Durations are in-process against moto: no network "
    "latency, but moto's own work and the emulator's IAM checks inside each call.",
    "Step Functions Standard: the emulator's meter, transitions plus one per Distributed Map "
    "child started (the AWS rule); Express: one request each and 64 MB x their duration "
    "rounded up to 100 ms.",
    "DynamoDB: 1 WRU per started KB of the larger of the item before and after each write "
    "(BatchWriteItem per item; transactions 2x), failed conditional writes too, plus the "
    "index write units of every secondary index entry a write adds, changes or removes; "
    "reads 4 KB units (eventually consistent halved).",
    "SQS, SNS and Pipes: one request per 64 KiB chunk (Pipes counted after filtering, per "
    "record). CloudWatch Logs: the bytes the functions log, at the ingestion price.",
    "EventBridge: custom events (PutEvents by the workload) at $1.00/M; events AWS services "
    "emit (S3 Object Created) are free. The input events of the late-data workload and the "
    "writes feeding the premium stream are the producer's, excluded for both designs.",
    "Not priced (reported as counts where measured): S3 requests, DynamoDB Streams reads "
    "by Pipes, EventBridge Scheduler ticks, MSK, data transfer, Lambda's own START/END/REPORT "
    "log lines.",
    "Scaling: linear from the measured run to 1,000,000 records, i.e. 1M records arriving "
    "in inputs shaped like the measured one (per-file and per-message costs scale too).",
    "Runs: every task in its own process, one after another, except the late-data emulator "
    "run (the longest), which runs beside the other cost runs (2 cores, one each; Lambda "
    "GB-seconds are about 1% of its bill). Throughput, import and demo timings run with "
    "nothing else of the benchmark's; other work on the machine is not controlled.",
    "moto: the emulator's fixes apply in every benchmark process (TransactWriteItems without "
    "moto's whole-table copy per call, emulator/services/dynamodb_transactions.py, and the "
    "SQS counters; speed only, same answers); queues and tables the emulator adds to observe "
    "a pipeline (`emulator-...`) are excluded from the bill.",
]


def _money(value: Any) -> str:
    if not isinstance(value, int | float):
        return "n/a"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _ratio(seed: Any, ours: Any) -> float | None:
    if isinstance(seed, int | float) and isinstance(ours, int | float) and ours > 0:
        return round(seed / ours, 1)
    return None


def compare(
    pipeline: str, ours: Mapping[str, Any] | None, seed: Mapping[str, Any]
) -> dict[str, Any]:
    """Ours against the seed design, and the issue's targets where it sets any."""
    ours_cost = ours.get("cost_per_million_usd") if ours else None
    seed_cost = seed.get("cost_per_million_usd")
    ratio = _ratio(seed_cost, ours_cost)
    targets: list[dict[str, Any]] = []
    if pipeline == "validation":
        targets = [
            {
                "target": "<= $1.00 per million records",
                "value": ours_cost,
                "met": None if ours_cost is None else ours_cost <= 1.0,
            },
            {
                "target": ">= 30x cheaper than the seed design",
                "value": ratio,
                "met": None if ratio is None else ratio >= 30,
            },
        ]
    elif pipeline == "premium":
        targets = _premium_targets(ours)
    costs = (ours or {}).get("breakdown_per_million_usd", {})
    largest = sorted(costs.items(), key=lambda kv: kv[1], reverse=True)[:3]
    return {
        "component": COMPONENTS[pipeline],
        "seed_design": SEED_DESIGNS[pipeline],
        "largest_costs_per_million_usd": {k: v for k, v in largest if v},
        "why": WHY[pipeline],
        "ours_usd_per_million": ours_cost,
        "seed_usd_per_million": seed_cost,
        "seed_over_ours": ratio,
        "targets": targets,
    }


def _premium_targets(ours: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not ours:
        return [
            {
                "target": "<= 1 Lambda invocation per 50 stream records at batch size 100",
                "value": None,
                "met": None,
            },
            {"target": "Pipes billed only for matching records", "value": None, "met": None},
        ]
    usage, details = ours.get("usage", {}), ours.get("details", {})
    invocations, records = usage.get("lambda_requests", 0), ours.get("records", 0)
    per = records / invocations if invocations else None
    expected = details.get("pipes_filter_check", {}).get("expected_pipes_requests")
    billed = usage.get("pipes_requests")
    return [
        {
            "target": "<= 1 Lambda invocation per 50 stream records at batch size 100",
            "value": None if per is None else f"1 per {per:.1f}",
            "met": None if per is None else per >= 50,
        },
        {
            "target": "Pipes billed only for matching records",
            "value": None
            if expected is None
            else f"{billed:,.0f} billed for {expected:,} matching",
            "met": None if expected is None else billed == expected,
        },
    ]


def one_line(task: str, result: Mapping[str, Any]) -> str:
    """A progress line for one finished task."""
    status = str(result.get("status", ""))
    took = f" in {result['task_seconds']:.1f} s" if "task_seconds" in result else ""
    if status.startswith("not available"):
        return status[:300]
    if "cost_per_million_usd" in result:
        return (
            f"{status}: {_money(result['cost_per_million_usd'])} per million "
            f"({result.get('records', 0):,} records){took}"
        )
    if "handlers" in result:
        rates = ", ".join(
            f"{name.split('.', 1)[1]} {h.get('records_per_second', '?')}/s"
            for name, h in result["handlers"].items()
            if isinstance(h, Mapping) and "records_per_second" in h
        )
        return f"{status}: {rates}{took}"
    if "modules" in result:
        times = ", ".join(
            f"{name.split('.')[1]} {m['median_ms']:.0f} ms" for name, m in result["modules"].items()
        )
        return f"{status}: {times}{took}"
    if "wall_seconds" in result:
        return f"{status}: {result['wall_seconds']} s, exit code {result.get('exit_code')}"
    return status


def table(results: Mapping[str, Any]) -> str:
    """The summary printed at the end of `make bench`."""
    rows = [("pipeline", "records", "ours $/1M", "seed $/1M", "seed/ours", "status")]
    for pipeline in COMPONENTS:
        entry, comparison = results[pipeline], results["comparison"][pipeline]
        status = results["status"][pipeline]
        rows.append(
            (
                pipeline,
                f"{entry['records']:,}" if entry["records"] else "-",
                _money(entry["cost_per_million_usd"]),
                _money(entry["seed_cost_per_million_usd"]),
                f"{comparison['seed_over_ours']}x" if comparison["seed_over_ours"] else "-",
                status if status == "measured" else status[:70],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for pipeline in COMPONENTS:
        comparison = results["comparison"][pipeline]
        for target in comparison["targets"]:
            verdict = {True: "met", False: "NOT met", None: "n/a"}[target["met"]]
            value = target["value"]
            shown = _money(value) if "$" in target["target"] else value
            shown = f"{value}x" if "cheaper" in target["target"] and value is not None else shown
            lines.append(f"  {pipeline}: {target['target']}: {shown} -> {verdict}")
        largest = comparison.get("largest_costs_per_million_usd") or {}
        if largest:
            lines.append(
                f"  {pipeline}: largest costs per million: "
                + ", ".join(f"{k} {_money(v)}" for k, v in largest.items())
            )
    return "\n".join(lines)


def _breakdown_table(results: Mapping[str, Any]) -> list[str]:
    header = "| service | " + " | ".join(COMPONENTS) + " |"
    lines = [header, "|---" * (len(COMPONENTS) + 1) + "|"]
    for service in SERVICES:
        cells = []
        for pipeline in COMPONENTS:
            value = results[pipeline]["breakdown"].get(service)
            cells.append(_money(value) if value is not None else "n/a")
        lines.append(f"| {service} | " + " | ".join(cells) + " |")
    return lines


def _throughput_lines(results: Mapping[str, Any]) -> list[str]:
    lines = [
        "| handler | batch | records/s (warm) | warm ms (mean / p95) | first call ms | "
        "log bytes/record |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results.get("throughput", {}).items():
        if not isinstance(row, Mapping) or "records_per_second" not in row:
            continue
        lines.append(
            f"| `{name}` | {row['records_per_invocation']:g} {row['unit']} | "
            f"{row['records_per_second']:,} | {row['warm_ms_mean']:,} / {row['warm_ms_p95']:,} | "
            f"{row['first_call_ms']:,} | {row['log_bytes_per_record']} |"
        )
    return lines


def _cold_start_lines(results: Mapping[str, Any]) -> list[str]:
    modules = results.get("cold_start", {})
    if "status" in modules:
        return [f"Cold start: {modules['status']}"]
    lines = [
        "| module | import median (min-max) | < 300 ms | + boto3 at first invocation | "
        "heaviest top-level imports |",
        "|---|---|---|---|---|",
    ]
    for name, row in modules.items():
        heavy = ", ".join(f"{k} {v:g} ms" for k, v in row["heaviest"].items())
        lines.append(
            f"| `{name}` | {row['median_ms']:g} ms ({row['min_ms']:g}-{row['max_ms']:g}) | "
            f"{'yes' if row['within_target'] else 'NO'} | "
            f"{row.get('first_invocation_boto3_ms', 'n/a')} ms | {heavy} |"
        )
    return lines


def _scale_lines(results: Mapping[str, Any]) -> list[str]:
    scale = results.get("consolidation_scale", {})
    if not str(scale.get("status", "")).startswith("modelled"):
        return [f"Not available: {scale.get('status')}"]
    worker = scale["measured_worker"]
    lines = [
        f"Measured per updater worker (moto in process): "
        f"{worker['moto_ms_per_update_one_worker']} ms per UpdateItem with one worker "
        f"({worker['moto_updates_per_second_one_worker']}/s), "
        f"{worker['moto_updates_per_second_16_threads']}/s with the updater's 16 threads. "
        f"moto does DynamoDB's work in this process, so these are an upper bound on per-call "
        f"overhead, not DynamoDB latency. The client's own CPU per UpdateItem (serialise, sign, "
        f"HTTP, parse; against a local server answering `{{}}`): "
        f"{worker.get('http_client_cpu_ms_per_update', 'n/a')} ms "
        f"(botocore with the call stubbed: {worker['client_cpu_ms_per_update']} ms).",
        "",
        f"Model for {scale['records']:,} chargebacks with the dev settings "
        f"({scale['settings']['files']} files, {scale['settings']['batch_rows']} rows per "
        f"updater invocation, {scale['settings']['row_concurrency']} x "
        f"{scale['settings']['file_concurrency']} invocations at once, "
        f"{scale['settings']['threads']} threads each, {scale['settings']['memory_mb']} MB):",
        "",
        "| UpdateItem latency | table writes/s | per invocation /s | limited by | concurrent "
        "invocations | wall time | cost | $/1M |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for case in scale["cases"]:
        lines.append(
            f"| {case['update_latency_ms']:g} ms | {case['table_writes_per_second']:,.0f} | "
            f"{case['updates_per_second_per_invocation']:,} | {case['limited_by']} | "
            f"{case['concurrent_invocations']} | {case['wall_seconds']:,} s | "
            f"{_money(case['cost_usd'])} | {_money(case['cost_per_million_usd'])} |"
        )
    seconds = scale["seed_single_invocation_seconds"]
    lines += [
        "",
        f"The seed's design (one invocation, one UpdateItem after another) needs "
        f"{seconds[0]:,}-{seconds[-1]:,} s for the same partition: more than Lambda's "
        f"{scale['lambda_limit_seconds']} s limit, so it cannot finish.",
    ]
    run = scale.get("measured_emulator_run", {})
    if "status" in run:
        lines.append(f"\nMeasured emulator run of the consolidation pipeline: {run['status']}")
    else:
        lines.append(
            f"\nMeasured emulator run: {run['chargebacks']:,} chargebacks in "
            f"{run['run_seconds']} s ({run['records_per_second_on_emulator']}/s on moto)."
        )
    return lines


def _notes(results: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for pipeline in COMPONENTS:
        details = results["details"][pipeline]
        for side in ("ours", "seed"):
            for note in details[side].get("notes", []) or []:
                lines.append(f"- **{pipeline}, {side}**: {note}")
    return lines


def readme(results: Mapping[str, Any]) -> str:
    """bench/README.md from results.json."""
    m = results["machine"]
    lines = [
        "# orderflow benchmarks",
        "",
        "Generated by `make bench` (`.venv/bin/python -m bench`) from `bench/results.json`; "
        "do not edit by hand (`python -m bench --readme` regenerates it).",
        "",
        f"Measured {results['generated_at']} on {m['nproc']} cores ({m['cpu'] or 'unknown CPU'}),"
        f" Python {m['python']}, {m['platform']}; commit {m['git_commit']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items())
        + f". The whole run took {results['bench_seconds']:.0f} s.",
        "",
        "## Cost per 1,000,000 records",
        "",
        "```",
        table(results),
        "```",
        "",
        "Per service, USD per million records (ours):",
        "",
        *_breakdown_table(results),
        "",
        "Seed designs measured against: "
        + "; ".join(f"**{p}**: {d}" for p, d in SEED_DESIGNS.items())
        + ".",
        "",
        *[f"- **{p}**: {results['comparison'][p].get('why', '')}" for p in COMPONENTS],
        "",
    ]
    for pipeline, status in results["status"].items():
        if status != "measured":
            lines.append(f"- **{pipeline}** (ours): {status}")
    lines += [
        "",
        "Reproduce one figure: `python -m bench --task pipeline:<pipeline>` (ours, on the "
        "emulator) or `python -m bench --task seed:<pipeline>` (the seed design) prints the "
        "counted usage, the breakdown and the run's details as JSON. Pipelines: "
        "`validation`, `premium`, `late-data`, `consolidation`.",
        "",
        "### Notes",
        "",
        *_notes(results),
        "",
        "## Throughput per handler (in process, against moto)",
        "",
        "Each handler function called directly with the dev stack's batch sizes; warm figures "
        "exclude the first call (which creates the boto3 clients). moto does DynamoDB's, SQS's "
        "and EventBridge's work in this process, so these rates are bounded by moto, not AWS. "
        "Reproduce: `python -m bench --task throughput:<validation|orders|consolidation|"
        "reconciliation>`.",
        "",
        *_throughput_lines(results),
        "",
        "## Cold start: handler module import time",
        "",
        "`import <module>` timed in a fresh interpreter (median of 5; Lambda bills init). The "
        "handlers import boto3 lazily, so the first invocation adds importing it and building "
        "a client (next column, median of 3): that is the rest of a cold start. "
        "Reproduce: `python -m bench --task imports`.",
        "",
        *_cold_start_lines(results),
        "",
        "## ConsolidationConsumer at the seed's scale (1,250,000 chargebacks)",
        "",
        *_scale_lines(results),
        "",
        "Reproduce: `python -m bench --task throughput:consolidation` (the measurements); the "
        "model is `bench/scale.py`.",
        "",
        "## `make demo`",
        "",
        _demo_line(results.get("demo", {})),
        "",
        "## Assumptions",
        "",
        *[f"- {a}" for a in results["assumptions"]],
        "",
        "Prices used (USD per unit): "
        + ", ".join(f"{k} {v:.10g}" for k, v in vars(PRICES).items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def _demo_line(demo: Mapping[str, Any]) -> str:
    if demo.get("status") != "measured":
        return f"`python -m emulator demo`: {demo.get('status', 'not run')}"
    return (
        f"`python -m emulator demo` took {demo['wall_seconds']} s wall time (exit code "
        f"{demo['exit_code']}; last line: `{demo['last_line']}`)."
    )
