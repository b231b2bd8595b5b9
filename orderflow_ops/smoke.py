"""`python -m orderflow_ops smoke --stack-outputs FILE`: the sample scenarios, on AWS.

Each pipeline with a shared scenario (`orderflow_ops.scenarios`) gets its sample inputs
fed through public APIs, using only the stack outputs; then its accounting is re-read
until every record is stored or dead-lettered (or the timeout passes), with progress on
standard error, and the same accounting as `python -m emulator run` is printed.

Exit codes: 0 every record accounted for, 1 something lost, unsettled or refused by AWS,
2 usage error (no outputs file, a pipeline the stack does not export).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from orderflow_ops.scenarios import (
    NOT_ON_AWS,
    SCENARIOS,
    Outcome,
    PipelineOutputs,
    ScenarioClients,
)
from orderflow_ops.scenarios.base import Scenario, ScenarioInputError
from orderflow_ops.scenarios.validation import ValidationScenario
from orderflow_ops.stack import OUTPUT_PREFIX, PIPELINES, ResolutionError, load_outputs

EXIT_FAILED = 1
EXIT_USAGE = 2
REPO_ROOT = Path(__file__).resolve().parent.parent

ClientMaker = Callable[[str], Any]


def add_parser(tools: Any, aws: argparse.ArgumentParser) -> None:
    smoke = tools.add_parser(
        "smoke",
        parents=[aws],
        help="run every pipeline's sample scenario against a deployed stack",
    )
    smoke.add_argument(
        "--stack-outputs", metavar="FILE", required=True, help="`pulumi stack output --json`"
    )
    smoke.add_argument(
        "--pipeline", action="append", choices=PIPELINES, help="repeatable; default: all"
    )
    smoke.add_argument(
        "--timeout", type=float, default=900.0, help="seconds to wait for each input to settle"
    )
    smoke.add_argument("--poll-seconds", type=float, default=10.0)
    smoke.add_argument(
        "--wait-seconds", type=int, default=1, help="SQS long-poll wait when reading a queue"
    )


@dataclass
class Waiting:
    """How `settle` waits: the clock and the pause between reads (tests make them instant)."""

    timeout: float
    poll_seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def settle(
    read: Callable[[], Outcome], waiting: Waiting, label: str, progress: TextIO
) -> tuple[Outcome, bool]:
    """Re-read the accounting until it settles; (last outcome, settled in time)."""
    started = waiting.clock()
    while True:
        outcome = read()
        elapsed = waiting.clock() - started
        done = outcome.stored + outcome.dead_lettered
        print(
            f"smoke: {label}: {done}/{outcome.records_in} record(s) accounted for "
            f"after {elapsed:.0f} s",
            file=progress,
        )
        if outcome.settled:
            return outcome, True
        if elapsed >= waiting.timeout:
            return outcome, False
        waiting.sleep(min(waiting.poll_seconds, max(0.0, waiting.timeout - elapsed)))


def summary(pipeline: str, path: Path, outcome: Outcome, *, settled: bool) -> str:
    """The accounting `python -m emulator run` prints, and the verdict."""
    shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    lines = [f"{pipeline} <- {shown} ({outcome.label})", *outcome.lines()]
    problems = list(outcome.problems)
    if not settled:
        problems.insert(0, "not settled before the timeout")
    lines.append(
        "  result          " + ("OK" if not problems else "PROBLEM: " + "; ".join(problems))
    )
    return "\n".join(lines) + "\n"


def scenarios_for_run(stamp: str) -> dict[str, Scenario]:
    """This run's scenarios: uploads under a prefix of their own, so reruns never mix."""
    return {**SCENARIOS, "validation": ValidationScenario(key_prefix=f"incoming/smoke-{stamp}/")}


def run(
    args: argparse.Namespace,
    make: ClientMaker,
    out: TextIO,
    *,
    waiting: Waiting | None = None,
    progress: TextIO | None = None,
    stamp: str | None = None,
    scenarios: Mapping[str, Scenario] | None = None,
) -> int:
    """Run the sample scenarios; `scenarios` replaces some (tests: the emulator's ticks)."""
    err = progress if progress is not None else sys.stderr
    try:
        outputs = load_outputs(args.stack_outputs)
    except (ResolutionError, OSError, ValueError) as exc:
        print(f"orderflow_ops smoke: {exc}", file=sys.stderr)
        return EXIT_USAGE
    wait = waiting or Waiting(args.timeout, args.poll_seconds)
    chosen = {
        **scenarios_for_run(stamp or time.strftime("%Y%m%dT%H%M%S", time.gmtime())),
        **(scenarios or {}),
    }
    wanted: Sequence[str] = args.pipeline or PIPELINES
    clients = ScenarioClients.using(make, wait_seconds=args.wait_seconds)
    failed = False
    for pipeline in wanted:
        scenario = chosen.get(pipeline)
        prefix = OUTPUT_PREFIX[pipeline]
        if scenario is None:
            why = NOT_ON_AWS.get(pipeline, "no AWS scenario")
            print(f"smoke: {pipeline}: skipped, emulator only: {why}", file=err)
            continue
        if not any(key.startswith(prefix) for key in outputs):
            print(f"smoke: {pipeline}: not in this stack's outputs, skipped", file=err)
            continue
        for path in scenario.demo_inputs(REPO_ROOT):
            failed |= not _run_one(
                scenario, clients, PipelineOutputs(pipeline, outputs), path, wait, out, err
            )
    return EXIT_FAILED if failed else 0


def _run_one(  # noqa: PLR0917 - one input's whole context, private
    scenario: Scenario,
    clients: ScenarioClients,
    outputs: PipelineOutputs,
    path: Path,
    waiting: Waiting,
    out: TextIO,
    err: TextIO,
) -> bool:
    """Feed one input and account for it; False when something does not add up."""
    label = f"{scenario.name} <- {path.name}"
    try:
        fed = scenario.feed(clients, outputs, path)
        outcome, settled = settle(
            lambda: scenario.outcome(clients, outputs, fed), waiting, label, err
        )
    except (ClientError, BotoCoreError, ResolutionError, ScenarioInputError) as exc:
        print(f"{label}\n  result          PROBLEM: {type(exc).__name__}: {exc}\n", file=out)
        return False
    print(summary(scenario.name, path, outcome, settled=settled), file=out)
    return settled and not outcome.problems
