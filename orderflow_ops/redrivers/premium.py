"""PremiumOrderPipe letters: the stored stream record back to the processors whose pipe
would deliver it.

The letter's `record` is the DynamoDB stream record verbatim. Each pipe reading that
stream (found with `ListPipes`/`DescribePipe`, or given with `--function`) is checked:
when its filter passes the record, its target function is invoked with a one-record
list, as Pipes invoke it. Processors publish through Powertools Idempotency keyed by
the order transition, so a record redriven twice publishes once; a record that is still
bad data is dead-lettered again under the same id. The redrive succeeded when every
invoked processor answered without a function error and without `batchItemFailures`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orderflow_ops.messages import Kind, Letter
from orderflow_ops.patterns import matches
from orderflow_ops.redrivers.base import Plan, Result, invoke_batch, skip


@dataclass(frozen=True)
class PipeTarget:
    """A processor and the filter patterns its pipe applies (none: everything passes)."""

    function: str
    patterns: tuple[Mapping[str, Any], ...] = ()
    pipe: str = ""

    def passes(self, record: Any) -> bool:
        return not self.patterns or any(matches(p, record) for p in self.patterns)


def discover_pipe_targets(pipes: Any, stream_arn: str | None) -> list[PipeTarget]:
    """Every Lambda-target pipe whose source is `stream_arn` (any stream when None)."""
    targets: list[PipeTarget] = []
    token: str | None = None
    while True:
        page = pipes.list_pipes(**({"NextToken": token} if token else {}))
        for summary in page.get("Pipes") or []:
            if stream_arn and summary.get("Source") != stream_arn:
                continue
            described = pipes.describe_pipe(Name=summary["Name"])
            target = str(described.get("Target", ""))
            if ":lambda:" not in target:
                continue
            filters = ((described.get("SourceParameters") or {}).get("FilterCriteria") or {}).get(
                "Filters"
            ) or []
            patterns = tuple(json.loads(f["Pattern"]) for f in filters if f.get("Pattern"))
            targets.append(PipeTarget(target, patterns, str(summary["Name"])))
        token = page.get("NextToken")
        if not token:
            return targets


class PremiumRedriver:
    """Redrives stream-record letters to the processors of the pipes that would see them."""

    name = "premium"

    def __init__(
        self,
        *,
        lambda_client: Any,
        pipes: Any = None,
        targets: Sequence[PipeTarget] | None = None,
    ) -> None:
        self.lambda_client = lambda_client
        self.pipes = pipes
        self._targets = list(targets) if targets is not None else None
        self._discovered: dict[str | None, list[PipeTarget]] = {}

    def accepts(self, letter: Letter) -> bool:
        return letter.kind is Kind.DEAD_LETTER and (
            "eventID" in letter.source or "sequenceNumber" in letter.source
        )

    def targets_for(self, stream_arn: str | None) -> list[PipeTarget]:
        if self._targets is not None:
            return self._targets
        if self.pipes is None:
            return []
        if stream_arn not in self._discovered:
            self._discovered[stream_arn] = discover_pipe_targets(self.pipes, stream_arn)
        return self._discovered[stream_arn]

    def plan(self, letter: Letter, *, force: bool = False) -> Plan:
        record = letter.payload
        if letter.truncated or not isinstance(record, Mapping):
            return skip("the letter holds no whole stream record")
        stream = letter.source.get("eventSourceARN")
        targets = self.targets_for(stream if isinstance(stream, str) else None)
        if not targets:
            return skip("no processor found: pass --function or a stack whose pipes exist")
        chosen = [t for t in targets if force or t.passes(record)]
        if not chosen:
            return skip("no pipe's filter passes this record (the pipes would drop it too)")
        names = ", ".join(t.function for t in chosen)
        return Plan(
            "invoke",
            names,
            [record],
            note=f"via {', '.join(t.pipe or t.function for t in chosen)}",
            perform=lambda: self._run(chosen, dict(record)),
        )

    def _run(self, targets: Sequence[PipeTarget], record: dict[str, Any]) -> Result:
        outcomes: list[str] = []
        for target in targets:
            result = invoke_batch(self.lambda_client, target.function, [record])
            if not result.ok:
                return Result(False, result.outcome, f"{target.function}: {result.detail}")
            outcomes.append(target.function)
        return Result(True, "processed", f"by {', '.join(outcomes)}")
