"""A recording fake dispatcher and helpers shared by the interpreter tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.states import ExecutionResult, StateMachineInterpreter, TaskContext, TaskError

REGION_ACCOUNT = "us-east-1:123456789012"
ROLE_ARN = "arn:aws:iam::123456789012:role/workflow"
MACHINE_ARN = f"arn:aws:states:{REGION_ACCOUNT}:stateMachine:test-machine"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
SQS_SEND = "arn:aws:states:::sqs:sendMessage"
FN = f"arn:aws:lambda:{REGION_ACCOUNT}:function:"

Handler = Callable[[Any], Any]


@dataclass
class Call:
    resource: str
    parameters: Any
    role_arn: str
    context: TaskContext


@dataclass
class FakeDispatcher:
    """Answers Task calls from registered handlers and S3 reads from `objects`.

    Handlers are keyed by resource, or for `lambda:invoke` by FunctionName; a handler
    receives the Lambda payload (or the parameters) and may raise TaskError. Lambda
    results are wrapped like the real integration.
    """

    handlers: dict[str, Handler] = field(default_factory=dict)
    objects: dict[tuple[str, str], Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def on(self, key: str, handler: Handler) -> FakeDispatcher:
        self.handlers[key] = handler
        return self

    def put_object(self, bucket: str, key: str, body: Any) -> None:
        self.objects[(bucket, key)] = body

    def invoke(self, resource: str, parameters: Any, *, role_arn: str, context: TaskContext) -> Any:
        self.calls.append(Call(resource, parameters, role_arn, context))
        if resource == S3_GET_OBJECT:
            location = (parameters["Bucket"], parameters["Key"])
            if location not in self.objects:
                raise TaskError("S3.NoSuchKey", "The specified key does not exist.")
            return self.objects[location]
        if resource == LAMBDA_INVOKE:
            handler = self.handlers.get(parameters["FunctionName"], lambda payload: payload)
            return {
                "Payload": handler(parameters.get("Payload")),
                "StatusCode": 200,
                "ExecutedVersion": "$LATEST",
            }
        handler = self.handlers.get(resource, lambda params: {"echo": params})
        return handler(parameters)

    def calls_to(self, key: str) -> list[Call]:
        return [
            call
            for call in self.calls
            if call.resource == key
            or (isinstance(call.parameters, dict) and call.parameters.get("FunctionName") == key)
        ]


def flaky(failures: int, error: str, result: Any = "ok", cause: str = "boom") -> Handler:
    """A handler that raises `error` `failures` times, then returns `result`."""
    remaining = [failures]

    def handler(_payload: Any) -> Any:
        if remaining[0] > 0:
            remaining[0] -= 1
            raise TaskError(error, cause)
        return result

    return handler


def always(error: str, cause: str = "boom") -> Handler:
    def handler(_payload: Any) -> Any:
        raise TaskError(error, cause)

    return handler


def machine(
    definition: dict[str, Any] | str,
    dispatcher: FakeDispatcher | None = None,
    *,
    workflow_type: str = "STANDARD",
    seed: int = 7,
) -> StateMachineInterpreter:
    return StateMachineInterpreter(
        definition,
        dispatcher=dispatcher or FakeDispatcher(),
        role_arn=ROLE_ARN,
        state_machine_arn=MACHINE_ARN,
        workflow_type=workflow_type,
        rng=random.Random(seed),
    )


def run(
    definition: dict[str, Any],
    payload: Any = None,
    dispatcher: FakeDispatcher | None = None,
    **kwargs: Any,
) -> ExecutionResult:
    return machine(definition, dispatcher, **kwargs).execute(
        {} if payload is None else payload, "exec-1"
    )


def single(state: dict[str, Any], name: str = "Only") -> dict[str, Any]:
    """A one-state machine."""
    return {"StartAt": name, "States": {name: state}}


def task(resource: str = "arn:aws:states:::sqs:sendMessage", **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "End": True, **fields}


def types(result: ExecutionResult) -> list[str]:
    return [event.type for event in result.history]
