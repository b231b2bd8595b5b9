"""What every redriver shares: the plan/result types and the calls that hand work back.

A redriver turns one `Letter` into a `Plan`: what it would call with which payload (all a
dry run shows) and a `perform` that does it and says whether the pipeline took the work
back. Only then is the message deleted. Redriving leans on the pipelines' idempotency:
records are stored by key, dead letters keep their deterministic id, effects run once
per transition, and executions started here get a name derived from the dead letter's
id and SQS message id, so redriving the same message twice starts one Standard
execution (the second `StartExecution` answers `ExecutionAlreadyExists`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from orderflow_ops.messages import Letter

EXECUTION_NAME_PREFIX = "redrive-"


@dataclass(frozen=True)
class Result:
    """How one redrive went; `ok` means the pipeline has the work back (delete the letter)."""

    ok: bool
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    """One redrive, described; `perform` is None when the letter is not redriven (a skip)."""

    action: str
    target: str
    payload: Any
    note: str = ""
    perform: Callable[[], Result] | None = field(default=None, compare=False, repr=False)

    @property
    def skipped(self) -> bool:
        return self.perform is None

    def describe(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "note": self.note}


def skip(why: str) -> Plan:
    return Plan("skip", "", None, note=why)


class Redriver(Protocol):
    """Knows one family of letters and how to hand them back to their pipeline."""

    name: str

    def accepts(self, letter: Letter) -> bool: ...

    def plan(self, letter: Letter, *, force: bool = False) -> Plan: ...


def execution_name(letter: Letter) -> str:
    """Deterministic per queued message: a retried redrive of it starts nothing new."""
    message_id = letter.queued.message_id if letter.queued is not None else ""
    digest = hashlib.sha256(f"{letter.id}/{message_id}".encode()).hexdigest()
    return EXECUTION_NAME_PREFIX + digest[:64]


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def invoke(lambda_client: Any, function: str, payload: Any) -> tuple[Result, Any]:
    """Invoke synchronously; a function error or a refused call is a failed redrive."""
    try:
        response = lambda_client.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
    except ClientError as exc:
        return Result(False, "invoke refused", f"{_error_code(exc)}: {exc}"), None
    body = response["Payload"].read()
    answer = json.loads(body) if body else None
    if response.get("FunctionError"):
        error = answer if isinstance(answer, Mapping) else {}
        detail = f"{error.get('errorType', 'Unhandled')}: {str(error.get('errorMessage'))[:500]}"
        return Result(False, "function error", detail), answer
    return Result(True, "invoked"), answer


def batch_failures(answer: Any) -> list[Any]:
    """The `batchItemFailures` of a partial batch response (empty: every record settled)."""
    if isinstance(answer, Mapping):
        failures = answer.get("batchItemFailures")
        if isinstance(failures, list):
            return failures
    return []


def invoke_batch(lambda_client: Any, function: str, payload: Any) -> Result:
    """Invoke a batch handler; a reported item failure means the pipeline did not take it."""
    result, answer = invoke(lambda_client, function, payload)
    if not result.ok:
        return result
    failures = batch_failures(answer)
    if failures:
        return Result(False, "reported for retry", f"batchItemFailures: {failures}")
    return Result(True, "processed", json.dumps(answer)[:300] if answer is not None else "")


def start_execution(sfn: Any, state_machine_arn: str, payload: Any, name: str) -> Result:
    """Start a workflow once per name; an existing execution of that name means done."""
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
        )
    except ClientError as exc:
        if _error_code(exc) == "ExecutionAlreadyExists":
            return Result(True, "already started", name)
        return Result(False, "start refused", f"{_error_code(exc)}: {exc}")
    return Result(True, "started", str(response.get("executionArn", name)))


def put_events(events: Any, entry: dict[str, Any]) -> Result:
    """PutEvents one entry; a failed entry (reported inline, not raised) fails the redrive."""
    try:
        response = events.put_events(Entries=[entry])
    except ClientError as exc:
        return Result(False, "put refused", f"{_error_code(exc)}: {exc}")
    (answer,) = response.get("Entries") or [{}]
    if answer.get("ErrorCode") or response.get("FailedEntryCount"):
        return Result(
            False, "put refused", f"{answer.get('ErrorCode')}: {answer.get('ErrorMessage')}"
        )
    return Result(True, "put", str(answer.get("EventId", "")))


def event_entry(event: Mapping[str, Any], bus: str) -> dict[str, Any]:
    """The PutEvents entry that puts `event` on `bus` again (EventBridge gives a new id)."""
    entry: dict[str, Any] = {
        "Source": event.get("source"),
        "DetailType": event.get("detail-type"),
        "Detail": json.dumps(event.get("detail")),
        "EventBusName": bus,
    }
    if event.get("resources"):
        entry["Resources"] = list(event["resources"])
    return entry
