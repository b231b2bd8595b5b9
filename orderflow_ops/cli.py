"""`python -m orderflow_ops replay list | inspect ID | redrive [--dry-run]`, `verify`, `smoke`.

Exit codes: 0 done (a dry run or skips included), 1 some redrive failed (its messages
were released, nothing is lost; fix and run again), 2 usage or resolution error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from orderflow_ops import smoke as smoke_command
from orderflow_ops.clients import Clients, build_redrivers
from orderflow_ops.messages import Letter
from orderflow_ops.queue import DEFAULT_HOLD_SECONDS, DeadLetterQueue
from orderflow_ops.replay import RedriveReport, inspect_letters, list_letters, redrive
from orderflow_ops.stack import PIPELINES, QUEUE_ROLES, ResolutionError, load_outputs, resolve
from orderflow_ops.verify import command as verify_command

EXIT_FAILED = 1
EXIT_USAGE = 2

ClientFactory = Callable[[argparse.Namespace], Clients]
ClientMakerFactory = Callable[[argparse.Namespace], verify_command.ClientMaker]


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("which queue and pipeline")
    where.add_argument("--pipeline", choices=PIPELINES, help="the pipeline the queue belongs to")
    where.add_argument(
        "--queue",
        choices=QUEUE_ROLES,
        default="dlq",
        help="the pipeline's records DLQ (default), its rule's, its schedule's or a pipe's DLQ",
    )
    where.add_argument("--queue-url", help="the queue, overriding the stack outputs")
    where.add_argument(
        "--stack-outputs", metavar="FILE", help="`pulumi stack output --json` saved (- = stdin)"
    )
    where.add_argument("--state-machine", metavar="ARN", help="the pipeline's workflow")
    where.add_argument(
        "--function",
        help="the function to redrive to (validate, premium processor, consumer, reconcile, "
        "or an async-invoke DLQ's function); found from the stack when omitted",
    )
    where.add_argument("--event-bus", default="default", help="late-data with --via bus")
    where.add_argument("--via", choices=("workflow", "bus"), default="workflow")
    aws = common.add_argument_group("AWS")
    aws.add_argument("--region")
    aws.add_argument("--profile")
    aws.add_argument("--wait-seconds", type=int, default=1, help="SQS long-poll wait")
    aws.add_argument(
        "--hold-seconds",
        type=int,
        default=DEFAULT_HOLD_SECONDS,
        help="how long received messages stay hidden from others during a replay",
    )
    common.add_argument("--json", action="store_true", help="print JSON")
    return common


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m orderflow_ops", description="orderflow operator tools"
    )
    tools = root.add_subparsers(dest="tool", required=True)
    replay = tools.add_parser("replay", help="list, inspect and redrive dead letters")
    commands = replay.add_subparsers(dest="command", required=True)
    common = _common()
    listing = commands.add_parser("list", parents=[common], help="list the queue's letters")
    listing.add_argument("--limit", type=int)
    inspect = commands.add_parser("inspect", parents=[common], help="show one letter in full")
    inspect.add_argument("id", help="dead-letter id (or a prefix of 8+ characters)")
    again = commands.add_parser(
        "redrive", parents=[common], help="hand letters back to their pipeline"
    )
    again.add_argument("--id", action="append", default=[], dest="ids", help="repeatable")
    again.add_argument("--reason", action="append", default=[], dest="reasons")
    again.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    again.add_argument(
        "--force", action="store_true", help="also redrive letters refused by default"
    )
    again.add_argument("--limit", type=int, help="receive at most this many messages")
    verify_command.add_parser(tools, _aws())
    smoke_command.add_parser(tools, _aws())
    return root


def _aws() -> argparse.ArgumentParser:
    aws = argparse.ArgumentParser(add_help=False)
    group = aws.add_argument_group("AWS")
    group.add_argument("--region")
    group.add_argument("--profile")
    return aws


def aws_client_maker(args: argparse.Namespace) -> verify_command.ClientMaker:
    """`make(service)` from the user's credentials (profile/region flags or the environment)."""
    import boto3  # noqa: PLC0415 - only the AWS mode needs it at startup

    make: verify_command.ClientMaker = boto3.Session(
        profile_name=args.profile, region_name=args.region
    ).client
    return make


def aws_clients(args: argparse.Namespace) -> Clients:
    """Clients from the user's credentials (profile/region flags or the environment)."""
    import boto3  # noqa: PLC0415 - only the AWS mode needs it at startup

    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    return Clients.using(session.client)


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: ClientFactory = aws_clients,
    client_maker: ClientMakerFactory = aws_client_maker,
    out: TextIO | None = None,
) -> int:
    """Run one command; `clients`/`client_maker` let tests pass moto-backed or stubbed clients."""
    stream = out if out is not None else sys.stdout
    args = parser().parse_args(argv)
    checks: dict[str, Callable[[argparse.Namespace, Any, TextIO], int]] = {
        "verify": verify_command.run,
        "smoke": smoke_command.run,
    }
    if args.tool in checks:
        return checks[args.tool](args, client_maker(args), stream)
    try:
        targets = resolve(
            load_outputs(args.stack_outputs),
            pipeline=args.pipeline,
            queue=args.queue,
            queue_url=args.queue_url,
            state_machine_arn=args.state_machine,
        )
    except (ResolutionError, OSError, ValueError) as exc:
        print(f"orderflow_ops: {exc}", file=sys.stderr)
        return EXIT_USAGE
    made = clients(args)
    queue = DeadLetterQueue(
        made.sqs,
        targets.queue_url,
        wait_seconds=args.wait_seconds,
        hold_seconds=args.hold_seconds,
    )
    if args.command == "list":
        _print_letters(list_letters(queue, limit=args.limit), as_json=args.json, out=stream)
        return 0
    if args.command == "inspect":
        found = inspect_letters(queue, args.id)
        if not found:
            print(f"orderflow_ops: no letter {args.id} in {targets.queue_url}", file=sys.stderr)
            return EXIT_USAGE
        details = [letter.detail() for letter in found]
        print(json.dumps(details if len(details) > 1 else details[0], indent=2), file=stream)
        return 0
    redrivers = build_redrivers(
        made,
        pipeline=targets.pipeline,
        state_machine_arn=targets.state_machine_arn,
        function=args.function,
        event_bus=args.event_bus,
        via=args.via,
    )
    reports = redrive(
        queue,
        redrivers,
        ids=args.ids,
        reasons=args.reasons,
        dry_run=args.dry_run,
        force=args.force,
        limit=args.limit,
    )
    _print_reports(reports, as_json=args.json, out=stream)
    return 0 if all(report.ok for report in reports) else EXIT_FAILED


def _source_text(source: dict[str, Any]) -> str:
    text = json.dumps(source, separators=(",", ":"), default=str)
    return text if len(text) <= 100 else text[:97] + "..."


def _print_letters(letters: Sequence[Letter], *, as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps([letter.summary() for letter in letters], indent=2), file=out)
        return
    copies: dict[str, int] = {}
    for letter in letters:
        copies[letter.id] = copies.get(letter.id, 0) + 1
    print(f"{len(letters)} message(s), {len(copies)} distinct dead letter(s)", file=out)
    for letter in letters:
        print(
            f"{letter.id[:16]}  {letter.kind.value:<20} {letter.reason:<24} "
            f"{_source_text(dict(letter.source))}",
            file=out,
        )


def _print_reports(reports: Sequence[RedriveReport], *, as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps([report.as_dict() for report in reports], indent=2), file=out)
        return
    for report in reports:
        plan = report.plan
        line = f"{report.id[:16]}  {report.status:<9} {report.reason:<24} {plan.action}"
        if plan.target:
            line += f" {plan.target}"
        if report.outcome:
            line += f" -> {report.outcome}"
        if report.detail:
            line += f" ({report.detail})"
        print(line, file=out)
    statuses: dict[str, int] = {}
    for report in reports:
        statuses[report.status] = statuses.get(report.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) or "nothing selected"
    print(f"redrive: {summary}", file=out)
