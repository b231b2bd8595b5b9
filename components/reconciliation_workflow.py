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

# Express by default: every path must end within 5 minutes, retries included
# (`components.express_budget` checks it). Event path, worst case: flag 10 s x 5 attempts
# + 9 s, reconcile 20 s x 5 + 9 s, a dead letter 27 s = 195 s. Sweep path: 60 s x 3
# attempts + 3 s, then its dead letter = 210 s; the sweep stops early when its time runs
# short, and the next tick carries on where it stopped.
FLAG_TIMEOUT_SECONDS = 10
RECONCILE_TIMEOUT_SECONDS = 20
SWEEP_TIMEOUT_SECONDS = 60
DEFAULT_RETRY_ATTEMPTS = 2
TRANSIENT_ATTEMPTS = 2
SWEEP_RETRY_ATTEMPTS = 1


def _invoke(
    function_arn: str,
    payload_path: str,
    result_path: str,
    *,
    timeout_seconds: int,
    max_attempts: int,
    transient_attempts: int = TRANSIENT_ATTEMPTS,
) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": LAMBDA_INVOKE,
        "Parameters": {"FunctionName": function_arn, "Payload.$": payload_path},
        "ResultSelector": {"result.$": "$.Payload"},
        "ResultPath": result_path,
        "TimeoutSeconds": timeout_seconds,
        "Retry": lambda_retry(max_attempts, transient_attempts=transient_attempts),
    }


IDENTITY_PATH = "$.eventIdentity"
ORIGINAL_EVENT_ID = "$.detail.originalEvent.id"


# runtime.common.dead_letter.dead_letter_id("late-data", {"eventId": <id>}): SHA-256 of the
# compact, key-sorted JSON {"pipeline":"late-data","source":{"eventId":"<id>"}}. Event ids
# and execution names hold no character JSON would escape, so the text is the same.
EVENT_LETTER_ID = (
    "States.Hash(States.Format("
    '\'\\{"pipeline":"late-data","source":\\{"eventId":"{}"\\}\\}\', '
    f"{IDENTITY_PATH}.eventId), 'SHA-256')"
)


def _event_identity_states(name: str, *, then: str) -> dict[str, Any]:
    """Put the event's identity at IDENTITY_PATH: the id of the first event.

    A bus redrive (`orderflow_ops replay redrive --via bus`) gets a new EventBridge id and
    carries the first one in `detail.originalEvent.id` (runtime.reconciliation.domain
    reads it the same way). An input without an id (a hand-started execution) falls back
    to the execution's name.
    """

    def is_text(path: str) -> dict[str, Any]:
        return {
            "And": [{"Variable": path, "IsPresent": True}, {"Variable": path, "IsString": True}]
        }

    def keep(path: str) -> dict[str, Any]:
        return {
            "Type": "Pass",
            "Parameters": {"eventId.$": path},
            "ResultPath": IDENTITY_PATH,
            "Next": then,
        }

    return {
        name: {
            "Type": "Choice",
            "Choices": [
                {**is_text(ORIGINAL_EVENT_ID), "Next": f"{name}ByOriginalId"},
                {**is_text("$.id"), "Next": f"{name}ById"},
            ],
            "Default": f"{name}ByExecution",
        },
        f"{name}ByOriginalId": keep(ORIGINAL_EVENT_ID),
        f"{name}ById": keep("$.id"),
        f"{name}ByExecution": keep("$$.Execution.Name"),
    }


def reconciliation_definition(
    *,
    flag_arn: str,
    reconcile_arn: str,
    sweep_arn: str,
    dead_letter_queue_url: str,
    max_attempts: int = DEFAULT_RETRY_ATTEMPTS,
    timeouts: tuple[int, int, int] = (
        FLAG_TIMEOUT_SECONDS,
        RECONCILE_TIMEOUT_SECONDS,
        SWEEP_TIMEOUT_SECONDS,
    ),
    sweep_attempts: int = SWEEP_RETRY_ATTEMPTS,
) -> dict[str, Any]:
    """Event path: flag → reconcile (retried, then dead-lettered); sweep path: re-drive.

    `timeouts` are the flag, reconcile and sweep functions' timeouts; a failed sweep is
    dead-lettered (`sweep_failed`) and fails the execution, so its alarm fires.
    """
    flag_timeout, reconcile_timeout, sweep_timeout = timeouts
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
                **_invoke(
                    flag_arn,
                    "$",
                    "$.flagged",
                    timeout_seconds=flag_timeout,
                    max_attempts=max_attempts,
                ),
                "Catch": [{**catch_all[0], "Next": "IdentifyUnflaggedEvent"}],
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
                **_invoke(
                    reconcile_arn,
                    "$.flagged.result",
                    "$.reconciled",
                    timeout_seconds=reconcile_timeout,
                    max_attempts=max_attempts,
                ),
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
            **_event_identity_states("IdentifyUnflaggedEvent", then="DeadLetterEvent"),
            "DeadLetterEvent": {
                **dead_letter_task(
                    dead_letter_queue_url,
                    pipeline="late-data",
                    reason="flag_failed",
                    # Named after the event, not the execution: a redelivery (or a bus
                    # redrive) of the same event failing again is the same letter.
                    id_path=EVENT_LETTER_ID,
                    source={"eventId.$": f"{IDENTITY_PATH}.eventId"},
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
                **_invoke(
                    sweep_arn,
                    "$",
                    "$.swept",
                    timeout_seconds=sweep_timeout,
                    max_attempts=sweep_attempts,
                    transient_attempts=sweep_attempts,
                ),
                "Catch": [{**catch_all[0], "Next": "DeadLetterSweep"}],
                "Next": "Swept",
            },
            "Swept": {"Type": "Succeed"},
            "DeadLetterSweep": {
                **dead_letter_task(
                    dead_letter_queue_url,
                    pipeline="late-data",
                    reason="sweep_failed",
                    id_path="$$.Execution.Name",
                    source={"execution.$": "$$.Execution.Id"},
                    record_path="$$.Execution.Input",
                ),
                "Next": "SweepFailed",
            },
            "SweepFailed": {
                "Type": "Fail",
                "Error": "SweepFailed",
                "Cause": "The sweep failed after its retries; it was dead-lettered and the "
                "next scheduled tick sweeps again",
            },
        },
    }
