"""`python -m orderflow_ops verify (--stack-outputs FILE | --from-program [--stack dev])`.

Exit codes: 0 nothing blocking (warnings and suggestions are printed), 1 an ERROR or
SECURITY_WARNING finding or a document AWS could not check, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from orderflow_ops.stack import ResolutionError, load_outputs
from orderflow_ops.verify.checks import verify_documents
from orderflow_ops.verify.documents import (
    Document,
    ReadClients,
    documents_from_outputs,
    documents_from_stack,
)

EXIT_FAILED = 1
EXIT_USAGE = 2

ClientMaker = Callable[[str], Any]


def add_parser(tools: Any, aws: argparse.ArgumentParser) -> None:
    verify = tools.add_parser(
        "verify",
        parents=[aws],
        help="validate every workflow definition and policy document with AWS",
    )
    source = verify.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--stack-outputs", metavar="FILE", help="a deployed stack: `pulumi stack output --json`"
    )
    source.add_argument(
        "--from-program",
        action="store_true",
        help="before deploying: the documents the program builds (run under the emulator)",
    )
    verify.add_argument("--stack", default="dev", help="with --from-program: Pulumi.<stack>.yaml")
    verify.add_argument("--json", action="store_true", help="print the findings as JSON")


def program_documents(stack: str) -> list[Document]:
    """Run the stack program under the emulator's mocks and read its documents.

    The emulator patches botocore while it is open, so the documents are read inside it
    and validated (against AWS) only after it has closed.
    """
    from emulator.engine import REPO_ROOT, Emulator  # noqa: PLC0415 - dev dependency (moto)

    with Emulator() as emulator:
        deployed = emulator.deploy(REPO_ROOT, stack)
    return documents_from_stack(deployed)


def run(
    args: argparse.Namespace,
    make: ClientMaker,
    out: TextIO,
    *,
    from_program: Callable[[str], list[Document]] = program_documents,
) -> int:
    try:
        if args.from_program:
            documents = from_program(args.stack)
        else:
            outputs = load_outputs(args.stack_outputs)
            documents = documents_from_outputs(ReadClients.using(make), outputs)
    except (ResolutionError, OSError, ValueError) as exc:
        print(f"orderflow_ops verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as exc:
        print(f"orderflow_ops verify: could not read the stack: {exc}", file=sys.stderr)
        return EXIT_FAILED
    verdict = verify_documents(
        documents, sfn=make("stepfunctions"), analyzer=make("accessanalyzer")
    )
    if args.json:
        report = {
            "ok": verdict.ok,
            "checked": [d.name for d in verdict.checked],
            "findings": [{**vars(f), "blocking": f.blocking} for f in verdict.findings],
        }
        print(json.dumps(report, indent=2), file=out)
    else:
        print("\n".join(verdict.lines()), file=out)
    return 0 if verdict.ok else EXIT_FAILED
