"""Run a handler locally on an event file, as the seed's README describes.

    python -m runtime.consolidation samples/consolidation/test_event.json
    python -m runtime.consolidation --handler apply_updates batch.json

It calls the handler in process against whatever AWS the environment points to
(credentials, AWS_REGION or AWS_DEFAULT_REGION, AWS_ENDPOINT_URL) with the variables the
handler documents, and prints the handler's response as the last line of JSON (logs and
EMF metrics go to stdout before it, as in Lambda).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import monotonic

SEED_REGION = "sa-east-1"  # the seed's AWS_REGION default


@dataclass
class LocalContext:
    """The parts of a Lambda context the handlers and Powertools read."""

    function_name: str = "consolidation-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:consolidation-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 120.0
    started: float = field(default_factory=monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (monotonic() - self.started)) * 1000))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.consolidation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("event", type=Path, help="JSON event file (e.g. test_event.json)")
    parser.add_argument("--handler", choices=("consume", "apply_updates"), default="consume")
    args = parser.parse_args(argv)

    # boto3 reads AWS_DEFAULT_REGION; Lambda sets both, a shell often only AWS_REGION.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or SEED_REGION
    os.environ.setdefault("AWS_DEFAULT_REGION", region)

    event = json.loads(args.event.read_text(encoding="utf-8"))
    from runtime.consolidation import handler  # noqa: PLC0415 - after the region is settled

    function = handler.consume if args.handler == "consume" else handler.apply_updates
    try:
        response = function(event, LocalContext())
    except RuntimeError as exc:  # missing settings, updates still failing after retries
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(response, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
