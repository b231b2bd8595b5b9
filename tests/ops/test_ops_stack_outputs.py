"""The stack outputs name every queue an operator or the smoke runner needs.

`replay --queue delivery|schedule|standard-pipe|premium-pipe` and `smoke` only know a
deployed stack through `pulumi stack output --json`: a dead-letter queue missing from the
outputs could not be replayed or accounted for without guessing its name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi_harness import PulumiHarness

from orderflow_ops.stack import PIPELINES, QUEUE_ROLES, ResolutionError, resolve

ROOT = Path(__file__).resolve().parents[2]


def test_every_queue_of_the_dev_stack_is_resolvable_from_its_outputs(
    pulumi_harness: PulumiHarness,
) -> None:
    stack = pulumi_harness.run_stack_program(ROOT, "dev")
    queues = {q.state["url"] for q in stack.of_type("aws:sqs/queue:Queue")}
    resolved: set[str] = set()
    for pipeline in PIPELINES:
        for role in QUEUE_ROLES:
            try:
                resolved.add(resolve(stack.outputs, pipeline=pipeline, queue=role).queue_url)
            except ResolutionError:
                continue  # this pipeline has no queue of that role
    assert queues, "the dev stack has dead-letter queues"
    assert resolved == queues


def test_pipe_queues_resolve_by_role_and_a_missing_export_names_itself() -> None:
    outputs = {
        "premiumStandardPipeDeadLetterQueueUrl": "https://standard",
        "premiumPremiumPipeDeadLetterQueueUrl": "https://premium",
    }
    assert resolve(outputs, pipeline="premium", queue="standard-pipe").queue_url == (
        "https://standard"
    )
    assert resolve(outputs, pipeline="premium", queue="premium-pipe").queue_url == (
        "https://premium"
    )
    with pytest.raises(ResolutionError, match="premiumDeadLetterQueueUrl"):
        resolve(outputs, pipeline="premium")
