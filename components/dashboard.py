"""A CloudWatch dashboard per component: throughput, errors, dead-letter depth, lag.

Panels are built from the same resources the component created, so a dashboard always
shows exactly what the component runs; one dashboard per component keeps each pipeline's
health on one screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .dead_letter_queue import DeadLetterQueue
from .lambda_function import PythonFunction
from .settings import Common
from .state_machine import StateMachineBundle

PANEL_WIDTH = 12
PANEL_HEIGHT = 6


@dataclass(frozen=True)
class Panel:
    """One graph: CloudWatch metric rows `[namespace, metric, dimension, value, {options}]`."""

    title: str
    metrics: Sequence[Sequence[Any]]
    stat: str = "Sum"
    period: int = 300
    options: dict[str, Any] = field(default_factory=dict)


def function_panels(functions: Sequence[PythonFunction]) -> list[Panel]:
    """Invocations (throughput), then errors and throttles, of each function."""
    throughput = [
        ["AWS/Lambda", "Invocations", "FunctionName", fn.function.name] for fn in functions
    ]
    failures = [
        ["AWS/Lambda", metric, "FunctionName", fn.function.name]
        for fn in functions
        for metric in ("Errors", "Throttles")
    ]
    return [Panel("Lambda invocations", throughput), Panel("Lambda errors and throttles", failures)]


def queue_panel(queues: Sequence[DeadLetterQueue]) -> Panel:
    """Messages waiting in each dead-letter queue (anything above zero needs a look)."""
    return Panel(
        "Dead-letter queue depth",
        [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q.queue.name]
            for q in queues
        ],
        stat="Maximum",
    )


def workflow_panel(workflow: StateMachineBundle) -> Panel:
    """Executions started, succeeded and failed."""
    return Panel(
        "Workflow executions",
        [
            ["AWS/States", metric, "StateMachineArn", workflow.arn]
            for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed")
        ],
    )


def custom_panel(
    title: str, namespace: str, service: pulumi.Input[str], metrics: Sequence[str]
) -> Panel:
    """The handlers' own EMF metrics (Powertools adds a `service` dimension)."""
    return Panel(title, [[namespace, metric, "service", service] for metric in metrics])


def build_dashboard(
    name: str, panels: Sequence[Panel], common: Common, parent: pulumi.Resource
) -> aws.cloudwatch.Dashboard:
    """Lay the panels out two per row."""
    widgets = [
        {
            "type": "metric",
            "x": (index % 2) * PANEL_WIDTH,
            "y": (index // 2) * PANEL_HEIGHT,
            "width": PANEL_WIDTH,
            "height": PANEL_HEIGHT,
            "properties": {
                "title": panel.title,
                "region": common.region,
                "metrics": [list(row) for row in panel.metrics],
                "stat": panel.stat,
                "period": panel.period,
                "view": "timeSeries",
                **panel.options,
            },
        }
        for index, panel in enumerate(panels)
    ]
    return aws.cloudwatch.Dashboard(
        f"{name}-dashboard",
        dashboard_name=f"orderflow-{name}-{pulumi.get_stack()}",
        dashboard_body=pulumi.Output.json_dumps({"widgets": widgets}),
        opts=pulumi.ResourceOptions(parent=parent),
    )
