"""Alarms: a message in a dead-letter queue is an incident someone must hear about."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import tokens
from .model import Props, StackResource, StackRule, Violation, as_list, dig, of_type

QUEUE_DEPTH_METRIC = ("AWS/SQS", "ApproximateNumberOfMessagesVisible")


def metrics(props: Props) -> Iterator[tuple[str, Any]]:
    """(input the metric came from, metric) for a plain alarm and each metric-math query."""
    yield "dimensions", props
    for query in as_list(props.get("metricQueries")):
        metric = dig(query, "metric")
        if isinstance(metric, Mapping):
            yield "metricQueries", metric


def watches(alarm: StackResource, queue: StackResource) -> bool:
    """Whether `alarm` watches the depth of `queue` (by QueueName)."""
    for prop, metric in metrics(alarm.props):
        if (metric.get("namespace"), metric.get("metricName")) != QUEUE_DEPTH_METRIC:
            continue
        dependencies = alarm.property_dependencies.get(prop) or ()
        if dependencies:
            if queue.urn in dependencies:
                return True
        elif dig(metric, "dimensions", "QueueName") == queue.props.get("name"):
            return True
    return False


def check_queues(resources: Sequence[StackResource]) -> list[Violation]:
    """Every SQS queue (in orderflow, every queue is a dead-letter queue) has a depth alarm."""
    alarms = of_type(resources, frozenset({tokens.METRIC_ALARM}))
    return [
        Violation(
            f"queue {queue.name} has no alarm on ApproximateNumberOfMessagesVisible: add a "
            f"MetricAlarm (AWS/SQS, dimensions QueueName={queue.props.get('name')}) so dead "
            "letters are noticed",
            queue.urn,
        )
        for queue in of_type(resources, frozenset({tokens.QUEUE}))
        if not any(watches(alarm, queue) for alarm in alarms)
    ]


DEAD_LETTER_QUEUES_ALARMED = StackRule(
    name="dead-letter-queues-alarmed",
    description=(
        "Every SQS queue has a MetricAlarm on ApproximateNumberOfMessagesVisible whose "
        "dimensions.QueueName is the queue's name."
    ),
    subject_types=frozenset({tokens.QUEUE}),
    check=check_queues,
)
