"""`python -m emulator up | run <pipeline> <input> [--json] | demo` (see DESIGN.md).

`run` and `demo` take `--interleave SEED`: concurrent work (Map children, deliveries,
executions) interleaves at AWS calls as the seed chooses (`emulator.interleave`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from emulator.deploy import describe
from emulator.engine import REPO_ROOT, Emulator
from emulator.provision import UnsupportedResourceError
from emulator.report import Mark, build_report
from emulator.scenarios import PIPELINES, SCENARIOS, Outcome, Scenario
from emulator.scenarios.base import ScenarioInputError
from orderflow.aws_facts import DYNAMODB_NUMBER_MAX_DIGITS

EXIT_USAGE = 2
EXIT_REFUSED = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator", description="orderflow's embedded AWS: the dev stack on moto."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="deploy the stack and list what was created")
    up.add_argument("--stack", default="dev")
    run = commands.add_parser("run", help="deploy, feed one input to a pipeline, report")
    run.add_argument("pipeline", choices=PIPELINES)
    run.add_argument("input", type=Path)
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--stack", default="dev")
    demo = commands.add_parser("demo", help="run every pipeline's seed scenario on samples/")
    demo.add_argument("--stack", default="dev")
    for command in (run, demo):
        command.add_argument(
            "--interleave",
            type=int,
            metavar="SEED",
            help="run concurrent work interleaved at every AWS call, as the seed chooses "
            "(the same seed, the same interleaving); default: one at a time, in order",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "up":
            return up(args.stack, sys.stdout)
        if args.command == "run":
            return run(
                args.pipeline,
                args.input,
                args.stack,
                as_json=args.json,
                out=sys.stdout,
                interleave=args.interleave,
            )
        return demo(args.stack, sys.stdout, interleave=args.interleave)
    except UnsupportedResourceError as exc:
        print(f"emulator: UnsupportedResourceError: {exc}", file=sys.stderr)
        return 1


def up(stack: str, out: TextIO) -> int:
    started = time.perf_counter()
    with Emulator() as emulator:
        deployed = emulator.deploy(REPO_ROOT, stack)
        for line in describe(deployed):
            print(line, file=out)
        custom = sum(1 for r in deployed if not r.type.startswith("orderflow:"))
        print(
            f"\n{custom} resources created in the emulator in {time.perf_counter() - started:.1f} s"
            f" (stack {stack}; they exist until this process ends)",
            file=out,
        )
    return 0


def _scenario(pipeline: str) -> Scenario | None:
    scenario = SCENARIOS.get(pipeline)
    if scenario is None:
        print(
            f"emulator: the {pipeline} pipeline is not built yet; "
            f"pipelines that exist: {', '.join(sorted(SCENARIOS))}",
            file=sys.stderr,
        )
    return scenario


def run(
    pipeline: str,
    path: Path,
    stack: str,
    *,
    as_json: bool,
    out: TextIO,
    interleave: int | None = None,
) -> int:
    scenario = _scenario(pipeline)
    if scenario is None:
        return EXIT_USAGE
    if not path.is_file():
        print(f"emulator: no input file {path}", file=sys.stderr)
        return EXIT_USAGE
    with Emulator(interleave=interleave) as emulator:
        emulator.deploy(REPO_ROOT, stack)
        try:
            report, outcome = run_scenario(emulator, scenario, path)
        except ScenarioInputError as error:
            print(f"emulator: {error}", file=sys.stderr)
            return EXIT_USAGE
        except InputRefused as refused:
            # What AWS (or its SDK) refuses is an error of the run, not a crash: what was
            # fed before it still runs, the report says why, the exit status says it failed.
            emulator.run_until_idle()
            report = build_report(
                emulator, scenario.name, scenario.component(emulator), refused.mark
            )
            if as_json:
                print(json.dumps(report, default=str), file=out)
            print(f"emulator: {pipeline} input {path.name} refused: {refused}", file=sys.stderr)
            return EXIT_REFUSED
    if as_json:
        print(json.dumps(report, default=str), file=out)
    else:
        print_summary(report, outcome, path, out)
    return 0


class InputRefused(RuntimeError):
    """Feeding the input hit what AWS refuses (a call's error, a number the SDK cannot
    send, a file too deeply nested to parse): reported in `errors`, never a traceback."""

    def __init__(self, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.mark = mark


def _refusal(exc: BaseException) -> str:
    """One line saying what refused the input, in AWS's terms where AWS refused it."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "the call")
        return f"{operation}: {error.get('Code')}: {error.get('Message')}"[:500]
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to parse (RecursionError)"
    if isinstance(exc, ArithmeticError):
        return (
            f"a number DynamoDB cannot hold (over {DYNAMODB_NUMBER_MAX_DIGITS.value} significant "
            f"digits or out of its range): the SDK refused it ({type(exc).__name__})"
        )
    return f"{type(exc).__name__}: {exc}"[:500]


def run_scenario(
    emulator: Emulator, scenario: Scenario, path: Path
) -> tuple[dict[str, Any], Outcome]:
    """Feed one input to a deployed pipeline, run until idle, report and account."""
    mark = Mark.now(emulator)
    try:
        fed = scenario.feed(emulator, path)
    except ScenarioInputError:
        raise
    except (BotoCoreError, ClientError, RecursionError, ArithmeticError) as exc:
        message = _refusal(exc)
        emulator.error("input", pipeline=scenario.name, input=path.name, message=message)
        raise InputRefused(message, mark) from exc
    emulator.run_until_idle()
    report = build_report(emulator, scenario.name, scenario.component(emulator), mark)
    report = scenario.adjust_report(emulator, report, fed)
    return report, scenario.outcome(report, fed)


def demo(stack: str, out: TextIO, *, interleave: int | None = None) -> int:
    started = time.perf_counter()
    failed = False
    with Emulator(interleave=interleave) as emulator:
        deployed = emulator.deploy(REPO_ROOT, stack)
        present = {(r.type, r.name) for r in deployed}
        print(
            f"orderflow emulator: stack {stack} deployed ({len(deployed)} resources) "
            f"in {time.perf_counter() - started:.1f} s\n",
            file=out,
        )
        for name, scenario in SCENARIOS.items():
            if (scenario.component_type, scenario.component_name) not in present:
                print(f"{name}: not in stack {stack}, skipped\n", file=out)
                continue
            for path in scenario.demo_inputs(REPO_ROOT):
                report, outcome = run_scenario(emulator, scenario, path)
                print_summary(report, outcome, path, out)
                failed |= bool(outcome.problems or report["iam_denied"] or report["errors"])
    verdict = "something was lost, denied or failed" if failed else "every record accounted for"
    print(f"demo finished in {time.perf_counter() - started:.1f} s: {verdict}", file=out)
    return 1 if failed else 0


def print_summary(report: dict[str, Any], outcome: Outcome, path: Path, out: TextIO) -> None:
    """A readable account of one input's run."""
    resolved = path.resolve()
    shown = resolved.relative_to(REPO_ROOT) if resolved.is_relative_to(REPO_ROOT) else path
    lines = [f"{report['pipeline']} <- {shown} ({outcome.label})", *outcome.lines()]
    statuses: dict[str, int] = {}
    for execution in report["executions"]:
        statuses[execution["status"]] = statuses.get(execution["status"], 0) + 1
    lines.append(
        f"  executions      {len(report['executions'])} "
        + " ".join(f"{s} {n}" for s, n in sorted(statuses.items()))
    )
    lines.append(
        "  invocations     " + ", ".join(f"{f} {n}" for f, n in report["invocations"].items())
    )
    denied = report["iam_denied"]
    lines.append(
        "  IAM denials     "
        + ("none" if not denied else "; ".join(f"{d['action']} on {d['resource']}" for d in denied))
    )
    lines.append(f"  errors          {len(report['errors']) or 'none'}")
    lines += [f"      {json.dumps(e, default=str)[:300]}" for e in report["errors"]]
    problems = outcome.problems
    lines.append(
        "  result          "
        + (
            "OK"
            if not (problems or denied or report["errors"])
            else "PROBLEM: " + "; ".join(problems or ["see above"])
        )
    )
    print("\n".join(lines) + "\n", file=out)
