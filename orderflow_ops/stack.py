"""Where a pipeline's queues and workflows are: `pulumi stack output --json`, or flags.

The stack program exports `<prefix>DeadLetterQueueUrl` and `<prefix>StateMachineArn` per
pipeline (prefix: `validation`, `premium`, `lateData`, `consolidation`), and the URL of
every other dead-letter queue: the rules' `<prefix>DeliveryDeadLetterQueueUrl`, the
schedule's `lateDataScheduleDeadLetterQueueUrl` and the pipes'
`premiumStandardPipeDeadLetterQueueUrl` / `premiumPremiumPipeDeadLetterQueueUrl`. A stack
built by an older program may lack some: `--queue-url` names them then. Explicit flags
always win over outputs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

PIPELINES: Final = ("validation", "premium", "consolidation", "late-data")
OUTPUT_PREFIX: Final = {
    "validation": "validation",
    "premium": "premium",
    "consolidation": "consolidation",
    "late-data": "lateData",
}
QueueRole = Literal["dlq", "delivery", "schedule", "standard-pipe", "premium-pipe"]
QUEUE_OUTPUT: Final[dict[str, str]] = {
    "dlq": "DeadLetterQueueUrl",
    "delivery": "DeliveryDeadLetterQueueUrl",
    "schedule": "ScheduleDeadLetterQueueUrl",
    "standard-pipe": "StandardPipeDeadLetterQueueUrl",
    "premium-pipe": "PremiumPipeDeadLetterQueueUrl",
}
QUEUE_ROLES: Final[tuple[QueueRole, ...]] = (
    "dlq",
    "delivery",
    "schedule",
    "standard-pipe",
    "premium-pipe",
)


class ResolutionError(ValueError):
    """Something needed is neither in the outputs nor given as a flag."""


def load_outputs(path: str | None) -> dict[str, Any]:
    """`pulumi stack output --json` saved to a file (`-` reads standard input)."""
    if path is None:
        return {}
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    outputs = json.loads(text)
    if not isinstance(outputs, dict):
        raise ResolutionError(
            f"{path}: expected the JSON object `pulumi stack output --json` prints"
        )
    return outputs


@dataclass(frozen=True)
class Targets:
    """What one replay works on."""

    queue_url: str
    pipeline: str | None
    state_machine_arn: str | None


def resolve(
    outputs: Mapping[str, Any],
    *,
    pipeline: str | None,
    queue: QueueRole = "dlq",
    queue_url: str | None = None,
    state_machine_arn: str | None = None,
) -> Targets:
    """Pick the queue and workflow from flags first, then from the stack outputs."""
    prefix = OUTPUT_PREFIX.get(pipeline or "")
    if queue_url is None:
        if prefix is None:
            raise ResolutionError("name the queue: --queue-url, or --pipeline with --stack-outputs")
        key = prefix + QUEUE_OUTPUT[queue]
        found = outputs.get(key)
        if not isinstance(found, str) or not found:
            raise ResolutionError(
                f"the stack outputs have no {key}; pass --queue-url (or export {key})"
            )
        queue_url = found
    if state_machine_arn is None and prefix is not None:
        found = outputs.get(prefix + "StateMachineArn")
        state_machine_arn = found if isinstance(found, str) and found else None
    return Targets(queue_url, pipeline, state_machine_arn)
