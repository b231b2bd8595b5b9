"""Distributed Map results exported to S3 instead of held in the workflow's state.

Why: without a ResultWriter a Distributed Map's result is the array of every child's
output, and Step Functions fails the state once that array passes 256 KiB, even with
`ResultPath: null` (the results are collected before they are discarded). A file of a
few million records makes enough children to get there. With a ResultWriter the
children's results go to S3 (one file per status plus a manifest under
`<prefix>/<map run id>/`) and the state's own result is a small pointer to them, so the
number of children no longer has a bound. AWS's ResultWriter page is the reference
(`orderflow.aws_facts.STEP_FUNCTIONS_RESULT_WRITER_*`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Final

import pulumi

from orderflow.aws_facts import (
    STEP_FUNCTIONS_RESULT_WRITER_ACTIONS,
    STEP_FUNCTIONS_RESULT_WRITER_RESOURCE,
)

from .iam import Statement

MAP_RESULTS_PREFIX: Final = "orderflow-work/map-results/"
"""Where a component's Map runs export their children's results, in its own bucket."""
WORK_FILE_DAYS: Final = 14
"""How long a bucket of work files (exports, normalized inputs) keeps them: long enough to
look into a run, short enough not to pile up."""


def _distributed_maps(states: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Distributed Map state, nested ones (inside a Map's ItemProcessor) included."""
    for name, state in states.items():
        if state.get("Type") != "Map":
            continue
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        if (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED":
            yield name, state
        yield from _distributed_maps(processor.get("States", {}))


def export_map_results(
    definition: Mapping[str, Any], *, bucket: str, prefix: str = MAP_RESULTS_PREFIX
) -> dict[str, Any]:
    """A copy of `definition` in which every Distributed Map exports its results to
    `s3://bucket/<prefix><state name>/` (a map that already has a ResultWriter is refused:
    two places deciding where results go would disagree)."""
    exported = copy.deepcopy(dict(definition))
    for name, state in _distributed_maps(exported["States"]):
        if "ResultWriter" in state:
            raise ValueError(f"Map state {name!r} already has a ResultWriter")
        state["ResultWriter"] = {
            "Resource": STEP_FUNCTIONS_RESULT_WRITER_RESOURCE.value,
            "Parameters": {"Bucket": bucket, "Prefix": f"{prefix}{name}"},
        }
    return exported


def map_results_statement(
    bucket_arn: pulumi.Input[str], prefix: str = MAP_RESULTS_PREFIX
) -> Statement:
    """What the workflow's role needs to write the exports, on the export prefix only."""
    return Statement(
        sid="ExportMapResults",
        actions=list(STEP_FUNCTIONS_RESULT_WRITER_ACTIONS.value),
        resources=[pulumi.Output.concat(bucket_arn, "/", prefix, "*")],
    )
