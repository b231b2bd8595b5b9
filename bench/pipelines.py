"""Run one of orderflow's pipelines on the emulator with a benchmark workload, and meter it.

Each pipeline runs through the emulator's own scenario (`emulator.scenarios`), exactly
as `python -m emulator run <pipeline> <input>` would, so the bill is what the deployed
dev stack actually did: every Lambda invocation with its measured duration, every state
transition from the execution histories, every AWS call the workload made. A pipeline
whose scenario is not registered yet is reported as not available, never estimated.

If the dev stack as a whole does not deploy (another pipeline mid-change), the pipeline's
component is deployed alone with the dev stack's settings, and the result says so.
"""

from __future__ import annotations

import json
import statistics
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench import workloads
from bench.pricing import MILLION, PRICES, Usage, breakdown, per_million
from bench.usage import per_function, snapshot_delta, usage_from_meter

DEFAULT_SIZES: Final[dict[str, int]] = {
    "validation": 20_000,  # records in one sales file
    "premium": 4_800,  # orders, ~2.2 stream records each
    "late-data": 10_000,  # late events
    "consolidation": 20_000,  # chargebacks in one consolidation
}
RECORD_UNITS: Final[dict[str, str]] = {
    "validation": "sales records",
    "premium": "stream records",
    "late-data": "late events",
    "consolidation": "chargebacks",
}
# pipeline -> (component class, its args TypedDict, stack config key, logical name)
COMPONENTS: Final[dict[str, tuple[str, str, str, str]]] = {
    "validation": ("ValidationPipeline", "ValidationPipelineArgs", "validation", "validation"),
    "premium": ("PremiumOrderPipe", "PremiumOrderPipeArgs", "premium", "premium"),
    "late-data": ("LateDataReconciler", "LateDataReconcilerArgs", "lateData", "late-data"),
    "consolidation": (
        "ConsolidationConsumer",
        "ConsolidationConsumerArgs",
        "consolidation",
        "consolidation",
    ),
}


QUEUE: Final = "aws:sqs/queue:Queue"
TABLE: Final = "aws:dynamodb/table:Table"


class NotAvailableError(Exception):
    """The pipeline cannot be measured yet; the message says why (it is reported as is)."""


@dataclass
class Workload:
    """One benchmark input, written where the scenario reads it."""

    pipeline: str
    records: int
    path: Path
    facts: dict[str, Any] = field(default_factory=dict)
    stream: workloads.StreamWorkload | None = None


@dataclass
class PipelineRun:
    pipeline: str
    records: int
    usage: Usage
    details: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def make_workload(pipeline: str, size: int, workdir: Path) -> Workload:
    """The input file for `pipeline` in the emulator's `run` format, and its record count."""
    workdir.mkdir(parents=True, exist_ok=True)
    if pipeline == "validation":
        sales = workloads.sales_records(size)
        path = workdir / f"bench-sales-{size}.json"
        path.write_bytes(sales.file_bytes())
        facts = {
            "valid_records": sales.valid,
            "kinds": dict(sales.kinds),
            "bytes": path.stat().st_size,
        }
        return Workload(pipeline, len(sales.records), path, facts)
    if pipeline == "premium":
        stream = workloads.order_changes(size)
        path = workdir / f"bench-order-writes-{size}.json"
        path.write_bytes(stream.input_bytes())
        facts = {"orders": size, "writes": len(stream.writes)}
        return Workload(pipeline, len(stream.stream_records), path, facts, stream)
    if pipeline == "late-data":
        entries = workloads.late_events(size)
        path = workdir / f"bench-late-events-{size}.json"
        path.write_text(json.dumps(entries))
        return Workload(pipeline, size, path, {"ticks": 1})
    if pipeline == "consolidation":
        data = workloads.consolidation_input(size)
        path = workdir / f"bench-consolidation-{size}.json"
        path.write_text(json.dumps(data))
        facts = {"files": len(data["objects"]) - 1, "messages": len(data["messages"])}
        return Workload(pipeline, size, path, facts)
    raise ValueError(f"unknown pipeline {pipeline!r}")


def _component_program(pipeline: str) -> Any:
    """A Pulumi program building only `pipeline`'s component with the stack's settings."""
    class_name, args_name, section, logical = COMPONENTS[pipeline]

    def program() -> None:
        import pulumi  # noqa: PLC0415 (the emulator owns the Pulumi runtime)

        import components  # noqa: PLC0415
        from components.settings import CommonArgs  # noqa: PLC0415
        from components.stack_config import component_args  # noqa: PLC0415

        config = pulumi.Config("orderflow")
        common = CommonArgs(
            log_retention_days=config.get_int("logRetentionDays") or 30,
            architecture=config.get("lambdaArchitecture") or "arm64",
            log_level=config.get("logLevel") or "INFO",
        )
        args = component_args(
            getattr(components, args_name), common, config.get_object(section), section
        )
        getattr(components, class_name)(logical, args)

    return program


def _deploy(emulator: Any, pipeline: str) -> str:
    """Deploy the dev stack, or the pipeline's component alone if the stack fails; say which."""
    from emulator.engine import REPO_ROOT  # noqa: PLC0415
    from emulator.settings import stack_settings  # noqa: PLC0415

    try:
        emulator.deploy(REPO_ROOT, "dev")
        return "dev stack"
    except Exception as exc:
        stack_error = f"{type(exc).__name__}: {str(exc)[:200]}"
    try:
        emulator.deploy_program(_component_program(pipeline), stack_settings(REPO_ROOT, "dev"))
    except Exception as exc:
        raise NotAvailableError(
            f"the dev stack does not deploy on the emulator ({stack_error}), nor does the "
            f"{pipeline} component alone ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    return f"{pipeline} component alone with the dev settings (dev stack: {stack_error})"


def _architectures(emulator: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for resource in emulator.stack.of_type("aws:lambda/function:Function"):
        name = resource.state.get("name") or resource.id
        architectures = (
            resource.state.get("architectures")
            or resource.inputs.get("architectures")
            or ["x86_64"]
        )
        found[str(name)] = str(architectures[0])
    return found


def _lambda_timings(invocations: list[Any]) -> dict[str, dict[str, float]]:
    by_function: dict[str, list[Any]] = {}
    for invocation in invocations:
        by_function.setdefault(invocation.function, []).append(invocation)
    timings: dict[str, dict[str, float]] = {}
    for name, calls in sorted(by_function.items()):
        durations = [c.duration_ms for c in calls]
        timings[name] = {
            "invocations": len(calls),
            "mean_ms": round(statistics.fmean(durations), 1),
            "max_ms": round(max(durations), 1),
            "init_ms": round(sum(c.init_ms for c in calls), 1),
        }
    return timings


def _largest_items(emulator: Any, component: Any) -> dict[str, dict[str, int]]:
    """Largest item (bytes, DynamoDB's sizing) and items over 1 KB, per component table."""
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    from emulator.program import ACCOUNT, REGION  # noqa: PLC0415
    from emulator.services.dynamodb_limits import item_size  # noqa: PLC0415

    sizes: dict[str, dict[str, int]] = {}
    for resource in emulator.stack.descendants_of(component):
        if resource.type != TABLE:
            continue
        table = dynamodb_backends[ACCOUNT][REGION].get_table(resource.state["name"])
        items = [item_size(item.to_json()["Attributes"]) for item in table.all_items()]
        sizes[resource.name] = {
            "largest": max(items, default=0),
            "over_1kb": sum(size > 1024 for size in items),
        }
    return sizes


def _keep_stack_resources(delta: dict[str, dict[str, float]], emulator: Any) -> dict[str, Any]:
    """Drop usage of queues and tables the stack does not own (the emulator's observers).

    A scenario may subscribe a queue of its own (`emulator-...`) to see what a pipeline
    published; deliveries to it are the emulator's bookkeeping, not the pipeline's bill.
    """
    owned = {
        "sqs_requests": {r.state.get("name") for r in emulator.stack.of_type(QUEUE)},
        "dynamodb_write_units": {r.state.get("name") for r in emulator.stack.of_type(TABLE)},
        "dynamodb_read_units": {r.state.get("name") for r in emulator.stack.of_type(TABLE)},
    }
    excluded: dict[str, Any] = {}
    for counter, names in owned.items():
        values = delta.get(counter, {})
        dropped = {k: v for k, v in values.items() if k not in names}
        if dropped:
            excluded[counter] = dropped
            delta[counter] = {k: v for k, v in values.items() if k in names}
    return excluded


def run_pipeline(pipeline: str, size: int, workdir: Path) -> PipelineRun:
    """Deploy, feed the workload, run until idle, and meter what the pipeline did."""
    from emulator.cli import run_scenario  # noqa: PLC0415
    from emulator.engine import Emulator  # noqa: PLC0415
    from emulator.scenarios import SCENARIOS  # noqa: PLC0415

    scenario = SCENARIOS.get(pipeline)
    if scenario is None:
        raise NotAvailableError(
            f"the emulator has no {pipeline} scenario yet (emulator/scenarios registers "
            f"{', '.join(sorted(SCENARIOS)) or 'none'})"
        )
    workload = make_workload(pipeline, size, workdir)
    with Emulator() as emulator:
        started = time.perf_counter()
        deployment = _deploy(emulator, pipeline)
        deploy_seconds = time.perf_counter() - started
        present = {(r.type, r.name) for r in emulator.stack}
        if (scenario.component_type, scenario.component_name) not in present:
            raise NotAvailableError(f"{scenario.component_name} is not in the deployed stack")
        before = emulator.meter.snapshot()
        invocations = len(emulator.lambdas.invocations)
        started = time.perf_counter()
        try:
            report, outcome = run_scenario(emulator, scenario, workload.path)
        except Exception as exc:
            raise NotAvailableError(
                f"the {pipeline} scenario failed on the benchmark input: "
                f"{type(exc).__name__}: {str(exc)[:300]}\n{traceback.format_exc(limit=4)}"
            ) from None
        seconds = time.perf_counter() - started
        delta = snapshot_delta(emulator.meter.snapshot(), before)
        excluded = _keep_stack_resources(delta, emulator)
        usage = usage_from_meter(delta, architectures=_architectures(emulator))
        component = scenario.component(emulator)
        details: dict[str, Any] = {
            "deployment": deployment,
            "substrate": "moto with the emulator's fixes (speed only)",
            "deploy_seconds": round(deploy_seconds, 2),
            "run_seconds": round(seconds, 2),
            "records_per_second_on_emulator": round(workload.records / seconds, 1),
            "workload": {
                "records": workload.records,
                "unit": RECORD_UNITS[pipeline],
                **workload.facts,
            },
            "outcome": {
                "records_in": outcome.records_in,
                "stored": outcome.stored,
                "dead_lettered": outcome.dead_lettered,
                "reasons": dict(outcome.reasons),
                "problems": outcome.problems,
            },
            "executions": len(report["executions"]),
            "invocations": report["invocations"],
            "errors": len(report["errors"]),
            "first_errors": [json.dumps(e, default=str)[:300] for e in report["errors"][:3]],
            "iam_denied": len(report["iam_denied"]),
            "standard_transitions": int(usage.standard_transitions),
            "dynamodb_index_write_units": delta.get("dynamodb_index_write_units", {}),
            "dynamodb_failed_conditional_writes": delta.get(
                "dynamodb_failed_conditional_writes", {}
            ),
            "lambda": per_function(delta),
            "lambda_timings": _lambda_timings(emulator.lambdas.invocations[invocations:]),
            "task_requests": delta.get("task_requests", {}),
            "largest_item_bytes": _largest_items(emulator, component),
            "excluded_not_in_stack": excluded,
        }
    run = PipelineRun(pipeline, workload.records, usage, details)
    _checks(run, workload)
    return run


def _checks(run: PipelineRun, workload: Workload) -> None:
    """Notes that make a figure checkable: what it should be, and what it is."""
    details, usage = run.details, run.usage
    if details["errors"] or details["outcome"]["problems"] or details["iam_denied"]:
        run.notes.append(
            f"The run reported {details['errors']} error(s), {details['iam_denied']} IAM "
            f"denial(s) and these accounting problems: {details['outcome']['problems']}; "
            f"the bill is of what ran, which may not be a healthy run (e.g. "
            f"{details['first_errors'][:1]})."
        )
    large = {t: s for t, s in details["largest_item_bytes"].items() if s["over_1kb"]}
    if large:
        run.notes.append(
            "Items over 1 KB: "
            + ", ".join(
                f"{s['over_1kb']:,} in {t} (largest {s['largest']:,} B)" for t, s in large.items()
            )
            + ". A PutItem of them is counted in full; an UpdateItem without ReturnValues is "
            "sized by its key, so an update of one of these items is under-counted by "
            "its extra KB."
        )
    if run.pipeline == "validation":
        valid = workload.facts["valid_records"]
        per_valid = usage.dynamodb_write_units / max(valid, 1)
        scaled = breakdown(per_million(usage, run.records))
        all_valid = sum(scaled.values()) - scaled["dynamodb_writes"] - scaled["sqs"]
        all_valid += MILLION * per_valid * PRICES.dynamodb_write_unit
        run.notes.append(
            f"{valid:,} of {run.records:,} records are valid: {usage.dynamodb_write_units:,.0f} "
            f"WRU written ({per_valid:.2f} per valid record). Derived, not measured: were every "
            f"record valid, the same run would cost about ${all_valid:.3f} per million "
            "(every record written, nothing dead-lettered)."
        )
    if run.pipeline == "premium" and workload.stream is not None:
        run.details["pipes_filter_check"] = premium_filter_check(workload.stream)
        matched = run.details["pipes_filter_check"]["matched_total"]
        per = usage.lambda_requests and run.records / usage.lambda_requests
        run.notes.append(
            f"{usage.lambda_requests:,.0f} Lambda invocations for {run.records:,} stream records "
            f"(one per {per:,.1f}); Pipes billed {usage.pipes_requests:,.0f} requests for "
            f"{matched:,} records matching the filters."
        )


def premium_filter_check(stream: workloads.StreamWorkload) -> dict[str, Any]:
    """How many of the workload's stream records each of our pipes' filters lets through."""
    from bench.reference import matching, pipe_requests  # noqa: PLC0415
    from components.premium_order_pipe import premium_filter, standard_filter  # noqa: PLC0415
    from emulator.engine import REPO_ROOT  # noqa: PLC0415
    from emulator.program import stack_config  # noqa: PLC0415

    settings = stack_config(REPO_ROOT, "dev").get("orderflow:premium", {})
    standard = matching(
        stream.stream_records,
        standard_filter(settings.get("acceptedStatuses", ["pending", "shipped"])),
    )
    premium = matching(
        stream.stream_records,
        premium_filter(
            settings.get("premiumFromStatus", "pending"), settings.get("premiumToStatus", "shipped")
        ),
    )
    return {
        "standard_matched": len(standard),
        "premium_matched": len(premium),
        "matched_total": len(standard) + len(premium),
        "expected_pipes_requests": pipe_requests(standard) + pipe_requests(premium),
    }
