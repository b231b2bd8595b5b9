"""Amazon States Language pieces every orderflow workflow uses the same way.

One definition of how a Lambda task retries and how a workflow dead-letters what it gives
up on, so the three workflows cannot drift apart on failure handling.
"""

from __future__ import annotations

from typing import Any

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SQS_SEND = "arn:aws:states:::sqs:sendMessage"

TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


# A dead-letter send is one SQS call: 5 s bounds an attempt, and 3 retries (1 + 2 + 4 s of
# backoff) keep its worst case at 27 s, small enough for any Express path that ends in it.
DEAD_LETTER_TIMEOUT_SECONDS = 5
DEAD_LETTER_RETRIES = 3


def lambda_retry(max_attempts: int, *, transient_attempts: int = 6) -> list[dict[str, Any]]:
    """Transient Lambda faults, then the function's own errors, with full-jitter backoff.

    Attempts are finite on both: a poison input ends in the Catch (and a dead-letter
    queue), never in an endless loop. Each retrier counts its own attempts, so a task runs
    up to 1 + `transient_attempts` + `max_attempts` times: inside an Express execution that
    must fit its 5 minutes (`components.express_budget`).
    """
    return [
        {
            "ErrorEquals": TRANSIENT_LAMBDA_ERRORS,
            "IntervalSeconds": 1,
            "MaxAttempts": transient_attempts,
            "BackoffRate": 2.0,
            "MaxDelaySeconds": 30,
            "JitterStrategy": "FULL",
        },
        {
            "ErrorEquals": ["States.TaskFailed", "States.Timeout"],
            "IntervalSeconds": 2,
            "MaxAttempts": max_attempts,
            "BackoffRate": 2.0,
            "MaxDelaySeconds": 60,
            "JitterStrategy": "FULL",
        },
    ]


def dead_letter_task(
    queue_url: str,
    *,
    pipeline: str,
    reason: str,
    id_path: str,
    source: dict[str, Any],
    record_path: str | None = None,
    record: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An SQS task sending the dead-letter message format of `runtime.common.dead_letter`.

    The caught error (at `$.error`) becomes the message; `record_path` names the payload
    to keep verbatim, or `record` builds it (None: the payload is the file or event the
    source names).
    """
    payload: dict[str, Any] = {"record.$": record_path} if record_path else {"record": record}
    return {
        "Type": "Task",
        "Resource": SQS_SEND,
        "Parameters": {
            "QueueUrl": queue_url,
            "MessageBody": {
                "id.$": id_path,
                "pipeline": pipeline,
                "reason": reason,
                "message.$": "$.error.Cause",
                "error.$": "$.error.Error",
                "source": source,
                **payload,
                "timestamp.$": "$$.State.EnteredTime",
            },
            "MessageAttributes": {
                "reason": {"DataType": "String", "StringValue": reason},
                "pipeline": {"DataType": "String", "StringValue": pipeline},
            },
        },
        "TimeoutSeconds": DEAD_LETTER_TIMEOUT_SECONDS,
        "Retry": [
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 1,
                "MaxAttempts": DEAD_LETTER_RETRIES,
                "BackoffRate": 2.0,
                "MaxDelaySeconds": 4,
                "JitterStrategy": "FULL",
            }
        ],
        "ResultPath": None,
    }
