"""Every component of the dev stack gets a dashboard showing everything it runs."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pytest
from pulumi_harness import PulumiHarness, Recorded, Stack

from emulator.settings import stack_settings

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ("validation", "premium", "late-data", "consolidation")


@pytest.fixture(scope="module")
def dev_stack(pulumi_harness: PulumiHarness) -> Stack:
    """The dev stack with the emulator's settings: all four pipelines (the consumer too)."""
    return pulumi_harness.run(
        lambda: runpy.run_path(str(ROOT / "__main__.py")), stack_settings(ROOT, "dev")
    )


def metric_rows(dashboard: Recorded) -> list[list[Any]]:
    body = json.loads(dashboard.inputs["dashboardBody"])
    assert body["widgets"], dashboard.name
    return [row for widget in body["widgets"] for row in widget["properties"]["metrics"]]


def component_children(stack: Stack, pipeline: str, typ: str) -> list[Recorded]:
    component = next(r for r in stack if r.type.startswith("orderflow:") and r.name == pipeline)
    return [r for r in stack.children_of(component) if r.type == typ]


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_dashboard_shows_every_function_queue_and_workflow_of_its_component(
    dev_stack: Stack, pipeline: str
) -> None:
    dashboard = dev_stack.one("aws:cloudwatch/dashboard:Dashboard", f"{pipeline}-dashboard")
    assert dashboard.inputs["dashboardName"] == f"orderflow-{pipeline}-dev"
    rows = metric_rows(dashboard)
    shown = {str(value) for row in rows for value in row}
    functions = component_children(dev_stack, pipeline, "aws:lambda/function:Function")
    queues = component_children(dev_stack, pipeline, "aws:sqs/queue:Queue")
    machines = component_children(dev_stack, pipeline, "aws:sfn/stateMachine:StateMachine")
    assert functions
    assert queues
    for fn in functions:
        assert fn.state["name"] in shown, fn.name
    for queue in queues:
        assert queue.state["name"] in shown, queue.name
    for machine in machines:
        assert machine.state["arn"] in shown, machine.name
    assert {"Errors", "Throttles", "ApproximateNumberOfMessagesVisible"} <= shown
    assert all(row[0] for row in rows)


def test_consolidation_dashboard_shows_consumer_lag(dev_stack: Stack) -> None:
    rows = metric_rows(
        dev_stack.one("aws:cloudwatch/dashboard:Dashboard", "consolidation-dashboard")
    )
    (lag,) = [row for row in rows if row[1] == "OffsetLag"]
    mapping = dev_stack.one(
        "aws:lambda/eventSourceMapping:EventSourceMapping", "consolidation-mapping"
    )
    assert mapping.state["uuid"] in lag
