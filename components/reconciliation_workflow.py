"""The LateDataReconciler's workflow definition, as plain data.

Express, not Standard: an event takes about six state transitions, which Standard bills at
$0.025 per 1,000 (≈ $150 per million late records) while Express bills the request and
the few hundred milliseconds it runs (≈ $1 to $2 per million). Express runs at least once
rather than exactly once; every step here is idempotent (a conditional ledger write, a
transaction guarded by the ledger entry's status), so a repeated step changes nothing.
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


def _invoke(
    function_arn: str, payload_path: str, result_path: str, max_attempts: int
) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function_arn, "Payload.$": payload_path},
        "ResultSelector": {"result.$": "$.Payload"},
        "ResultPath": result_path,
        "Retry": [
            {
                "ErrorEquals": TRANSIENT_LAMBDA_ERRORS,
                "IntervalSeconds": 1,
                "MaxAttempts": 6,
                "BackoffRate": 2.0,
                "MaxDelaySeconds": 20,
                "JitterStrategy": "FULL",
            },
            {
                "ErrorEquals": ["States.TaskFailed", "States.Timeout"],
                "IntervalSeconds": 2,
                "MaxAttempts": max_attempts,
                "BackoffRate": 2.0,
                "MaxDelaySeconds": 30,
                "JitterStrategy": "FULL",
            },
        ],
    }


def _dead_letter(queue_url: str, reason: str, record_path: str, id_path: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": SQS_SEND,
        "Parameters": {
            "QueueUrl": queue_url,
            "MessageBody": {
                "id.$": id_path,
                "pipeline": "late-data",
                "reason": reason,
                "message.$": "$.error.Cause",
                "error.$": "$.error.Error",
                "source": {"execution.$": "$$.Execution.Id"},
                "record.$": record_path,
                "timestamp.$": "$$.State.EnteredTime",
            },
            "MessageAttributes": {
                "reason": {"DataType": "String", "StringValue": reason},
                "pipeline": {"DataType": "String", "StringValue": "late-data"},
            },
        },
        "Retry": [
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 1,
                "MaxAttempts": 5,
                "BackoffRate": 2.0,
                "JitterStrategy": "FULL",
            }
        ],
        "ResultPath": None,
    }


def reconciliation_definition(
    *,
    flag_arn: str,
    reconcile_arn: str,
    sweep_arn: str,
    dead_letter_queue_url: str,
    max_attempts: int = 4,
) -> dict[str, Any]:
    """Event path: flag → reconcile (retried, then dead-lettered); sweep path: re-drive."""
    catch_all = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error"}]
    return {
        "Comment": "orderflow LateDataReconciler: record and reconcile late orders exactly once",
        "StartAt": "RouteByMode",
        "States": {
            "RouteByMode": {
                "Type": "Choice",
                # An event has no `mode`: comparing a missing path fails the execution with
                # States.Runtime, so presence is tested first.
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.mode", "IsPresent": True},
                            {"Variable": "$.mode", "StringEquals": "sweep"},
                        ],
                        "Next": "Sweep",
                    }
                ],
                "Default": "FlagLateOrder",
            },
            "FlagLateOrder": {
                **_invoke(flag_arn, "$", "$.flagged", max_attempts),
                "Catch": [{**catch_all[0], "Next": "DeadLetterEvent"}],
                "Next": "IsAccepted",
            },
            "IsAccepted": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.flagged.result.status",
                        "StringEquals": "rejected",
                        "Next": "EventRejected",
                    }
                ],
                "Default": "Reconcile",
            },
            "EventRejected": {
                "Type": "Succeed",
                "Comment": "FlagLateOrder dead-lettered the event with its reason",
            },
            "Reconcile": {
                **_invoke(reconcile_arn, "$.flagged.result", "$.reconciled", max_attempts),
                "Catch": [{**catch_all[0], "Next": "DeadLetterReconcile"}],
                "Next": "Reconciled",
            },
            "Reconciled": {"Type": "Succeed"},
            "DeadLetterReconcile": {
                **_dead_letter(
                    dead_letter_queue_url,
                    "reconcile_deferred",
                    "$.flagged.result",
                    "$.flagged.result.ledgerKey",
                ),
                "Next": "ReconcileDeferred",
            },
            "ReconcileDeferred": {
                "Type": "Fail",
                "Error": "ReconcileDeferred",
                "Cause": "The ledger entry stays flagged; the next scheduled sweep re-drives it",
            },
            "DeadLetterEvent": {
                **_dead_letter(
                    dead_letter_queue_url, "flag_failed", "$$.Execution.Input", "$$.Execution.Name"
                ),
                "Next": "FlagFailed",
            },
            "FlagFailed": {
                "Type": "Fail",
                "Error": "FlagFailed",
                "Cause": "The late record could not be recorded; the event was dead-lettered",
            },
            "Sweep": {
                **_invoke(sweep_arn, "$", "$.swept", max_attempts),
                "Next": "Swept",
            },
            "Swept": {"Type": "Succeed"},
        },
    }
