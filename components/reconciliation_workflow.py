"""The LateDataReconciler's workflow definition, as plain data.

Express, not Standard: an event takes about six state transitions, which Standard bills at
$0.025 per 1,000 (≈ $150 per million late records) while Express bills the request and
the few hundred milliseconds it runs (≈ $1 to $2 per million). Express runs at least once
rather than exactly once; every step here is idempotent (a conditional ledger write, a
transaction guarded by the ledger entry's status), so a repeated step changes nothing.
"""

from __future__ import annotations

from typing import Any

from .asl import LAMBDA_INVOKE, dead_letter_task, lambda_retry


def _invoke(
    function_arn: str, payload_path: str, result_path: str, max_attempts: int
) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function_arn, "Payload.$": payload_path},
        "ResultSelector": {"result.$": "$.Payload"},
        "ResultPath": result_path,
        "Retry": lambda_retry(max_attempts),
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
                **dead_letter_task(
                    dead_letter_queue_url,
                    pipeline="late-data",
                    reason="reconcile_deferred",
                    id_path="$.flagged.result.ledgerKey",
                    # Identified by the ledger entry alone, so every execution deferring the
                    # same entry writes the same letter (one id, one content).
                    source={"ledgerKey.$": "$.flagged.result.ledgerKey"},
                    record={
                        "ledgerKey.$": "$.flagged.result.ledgerKey",
                        "orderId.$": "$.flagged.result.orderId",
                    },
                ),
                "Next": "ReconcileDeferred",
            },
            "ReconcileDeferred": {
                "Type": "Fail",
                "Error": "ReconcileDeferred",
                "Cause": "The ledger entry stays flagged; the next scheduled sweep re-drives it",
            },
            "DeadLetterEvent": {
                **dead_letter_task(
                    dead_letter_queue_url,
                    pipeline="late-data",
                    reason="flag_failed",
                    id_path="$$.Execution.Name",
                    source={"execution.$": "$$.Execution.Id"},
                    record_path="$$.Execution.Input",
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
