"""The 256 KiB payload quota, enforced because the pipeline's design relies on it.

Step Functions measures a payload as its UTF-8 JSON text; we serialise compactly, which
is the smallest text AWS could possibly count, so anything we reject AWS rejects too.
"""

from __future__ import annotations

import json
from typing import Any, Final

from emulator.states.errors import DATA_LIMIT_EXCEEDED, TaskError
from orderflow.aws_facts import STEP_FUNCTIONS_MAX_PAYLOAD_BYTES

MAX_PAYLOAD_BYTES: Final = STEP_FUNCTIONS_MAX_PAYLOAD_BYTES.value


def json_text(value: Any) -> str:
    """Compact JSON, as Step Functions would pass it on (non-JSON values via `str`)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON."""
    return len(json_text(value).encode("utf-8"))


def check_payload(value: Any, what: str) -> None:
    """Raise States.DataLimitExceeded when `value` is over the payload quota of JSON."""
    size = json_size(value)
    if size > MAX_PAYLOAD_BYTES:
        raise TaskError(
            DATA_LIMIT_EXCEEDED,
            f"The {what} has a size of {size} bytes, which exceeds the maximum of "
            f"{MAX_PAYLOAD_BYTES} bytes",
        )
