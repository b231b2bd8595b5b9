"""Step Functions executions through the ASL interpreter (`emulator.states`).

`StartExecution` still goes to moto (so ARNs, name idempotency for running executions,
`describe_execution` and `list_executions` behave as moto implements them), and each new
execution is queued to run in the interpreter; its outcome is written back onto moto's
execution record, and `GetExecutionHistory` answers with the interpreter's history.

Every service call a workflow makes goes through `Dispatcher` with boto3, as the state
machine's role, so IAM is enforced by the same guard as Lambda code. A service error
becomes the `TaskError` name Step Functions uses (`Lambda.AWSLambdaException`,
`SQS.AmazonSQSException`, ...); a function error becomes its `errorType` with the error
payload as cause.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from random import Random
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.core.utils import utcnow
from moto.stepfunctions.models import Execution, StepFunctionBackend

from emulator.iam.actions import Need
from emulator.iam.guard import Denial, acting_as, current_principal
from emulator.iam.policies import Decision, Principal
from emulator.services import s3_reader
from emulator.services.express import is_express, start_express
from emulator.states import (
    ExecutionResult,
    StateMachineInterpreter,
    TaskContext,
    TaskError,
)
from orderflow.aws_facts import STEP_FUNCTIONS_RESULT_WRITER_ACTIONS

if TYPE_CHECKING:
    from emulator.engine import Emulator

OPTIMIZED = "arn:aws:states:::"

# How Step Functions prefixes a service's errors, and the name it gives errors that the
# SDK does not model as their own exception (access denied among them).
_SERVICE_ERRORS = {
    "lambda": ("Lambda", "AWSLambdaException"),
    "sqs": ("SQS", "AmazonSQSException"),
    "dynamodb": ("DynamoDB", "AmazonDynamoDBException"),
    "sns": ("SNS", "AmazonSNSException"),
    "events": ("EventBridge", "AmazonEventBridgeException"),
    "states": ("StepFunctions", "AWSStepFunctionsException"),
    "s3": ("S3", "AmazonS3Exception"),
}
# aws-sdk integration service names whose boto3 client is named differently.
_SDK_CLIENTS = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs"}


class UnsupportedIntegrationError(RuntimeError):
    """A Task resource the emulator cannot perform (it fails the run loudly)."""


def service_error(service: str, exc: ClientError) -> TaskError:
    """The TaskError Step Functions raises for a failed optimized-integration call."""
    prefix, generic = _SERVICE_ERRORS[service]
    code = str(exc.response.get("Error", {}).get("Code", ""))
    message = str(exc.response.get("Error", {}).get("Message", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
    name = code if code.endswith("Exception") and "AccessDenied" not in code else generic
    cause = f"{message} (Service: {prefix}, Status Code: {status}, Error Code: {code})"
    return TaskError(f"{prefix}.{name}", cause)


def _sdk_error(service: str, exc: ClientError) -> TaskError:
    code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
    name = code if code.endswith("Exception") else f"{code}Exception"
    message = exc.response.get("Error", {}).get("Message", "")
    return TaskError(
        f"{service[:1].upper()}{service[1:]}.{name}", f"{message} (Error Code: {code})"
    )


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class ExecutionRecord:
    """One top-level execution the emulator ran."""

    name: str
    arn: str
    state_machine_arn: str
    result: ExecutionResult | None
    status: str
    error: str | None = None
    cause: str | None = None


def aws_history(result: ExecutionResult, started: datetime) -> list[dict[str, Any]]:
    """The interpreter's history as GetExecutionHistory events (state names, errors)."""
    events = []
    for event in result.history:
        shaped: dict[str, Any] = {
            "timestamp": started,
            "type": event.type,
            "id": event.id,
            "previousEventId": event.id - 1,
        }
        if event.type.endswith(("StateEntered", "StateExited")):
            key = (
                "stateEnteredEventDetails"
                if event.type.endswith("Entered")
                else "stateExitedEventDetails"
            )
            shaped[key] = {"name": event.state}
        elif event.type == "ExecutionFailed":
            shaped["executionFailedEventDetails"] = {
                "error": event.detail.get("error"),
                "cause": event.detail.get("cause"),
            }
        events.append(shaped)
    return events


class StepFunctions:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.executions: list[ExecutionRecord] = []
        self.dispatcher = Dispatcher(emulator)
        self._rng = Random(emulator.seed)  # noqa: S311 - retry jitter, reproducible per seed

    def patches(self) -> list[AbstractContextManager[Any]]:
        service = self
        original_start = StepFunctionBackend.start_execution

        def start_execution(
            backend: StepFunctionBackend, state_machine_arn: str, name: str, execution_input: str
        ) -> Execution:
            machine = backend.describe_state_machine(state_machine_arn)
            if is_express(machine):  # no name idempotency, no moto record (services/express.py)
                express = start_express(backend, machine, name, execution_input)
                service.emulator.submit(
                    f"execute {express.name} of {machine.name} (express)",
                    lambda: service.run(backend, express),
                )
                return express
            known = len(machine.executions)
            execution = original_start(backend, state_machine_arn, name, execution_input)
            if len(machine.executions) > known:  # new, not an idempotent repeat
                service.emulator.submit(
                    f"execute {execution.name} of {machine.name}",
                    lambda: service.run(backend, execution),
                )
            return execution

        def get_execution_history(
            backend: StepFunctionBackend, execution_arn: str
        ) -> dict[str, Any]:
            record = next((r for r in service.executions if r.arn == execution_arn), None)
            if record is None or record.result is None:
                return dict(original_history(backend, execution_arn))
            execution = backend.describe_execution(execution_arn)
            return {"events": aws_history(record.result, execution.start_date)}

        original_history = StepFunctionBackend.get_execution_history
        return [
            mock.patch.object(StepFunctionBackend, "start_execution", start_execution),
            mock.patch.object(StepFunctionBackend, "get_execution_history", get_execution_history),
        ]

    def run(self, backend: StepFunctionBackend, execution: Execution) -> None:
        """Run one execution in the interpreter and write its outcome back to moto."""
        machine = backend.describe_state_machine(execution.state_machine_arn)
        record = ExecutionRecord(
            execution.name, execution.execution_arn, machine.arn, None, "RUNNING"
        )
        self.executions.append(record)
        try:
            interpreter = StateMachineInterpreter(
                json.loads(machine.definition),
                dispatcher=self.dispatcher,
                role_arn=machine.roleArn,
                state_machine_arn=machine.arn,
                workflow_type=machine.type,
                rng=Random(self._rng.random()),  # noqa: S311
            )
            # The context object's times ($$.Execution.StartTime, ...) are virtual.
            started = datetime.fromtimestamp(self.emulator.clock.now(), UTC)
            result = interpreter.run_execution(
                json.loads(execution.execution_input), execution.name, started=started
            )
        except Exception as exc:
            record.status, record.error, record.cause = (
                "FAILED",
                "Emulator.InternalError",
                repr(exc),
            )
            execution.status, execution.error, execution.cause = (
                record.status,
                record.error,
                record.cause,
            )
            execution.stop_date = utcnow()
            raise
        record.result = result
        record.status, record.error, record.cause = result.status, result.error, result.cause
        execution.status = result.status
        execution.output = None if result.output is None else json.dumps(result.output)
        execution.error, execution.cause = result.error, result.cause
        execution.stop_date = utcnow()
        self._meter(machine.arn, machine.type, result)
        if result.status != "SUCCEEDED":
            self.emulator.error(
                "execution",
                name=result.name,
                stateMachine=machine.name,
                status=result.status,
                error=result.error,
                cause=result.cause,
            )

    def _meter(self, arn: str, workflow_type: str, result: ExecutionResult) -> None:
        busy = self.dispatcher.busy_seconds
        self.emulator.meter.execution(
            arn, workflow_type, result, lambda execution: busy.pop(execution, 0.0)
        )


class Dispatcher:
    """The interpreter's `TaskDispatcher`: performs each task as the machine's role."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.busy_seconds: defaultdict[str, float] = defaultdict(float)
        """Time spent in tasks, per execution ARN (an Express execution bills it)."""

    def invoke(self, resource: str, parameters: Any, *, role_arn: str, context: TaskContext) -> Any:
        call: Callable[[], Any]
        if resource.startswith("arn:aws:lambda:"):
            service, action = "lambda", "invoke"
            call = lambda: self._bare_lambda(resource, parameters)  # noqa: E731
        elif resource.startswith(OPTIMIZED):
            service, _, action = resource[len(OPTIMIZED) :].partition(":")
            call = self._optimized(service, action, parameters)
        else:
            raise UnsupportedIntegrationError(f"the emulator cannot run Task resource {resource!r}")
        self.emulator.meter.task_requests[resource] += 1
        started = time.perf_counter()
        invocations = self.emulator.lambdas.invocations
        known = len(invocations)
        with acting_as(Principal.role(role_arn)):
            try:
                return call()
            except ClientError as exc:
                if service == "aws-sdk":
                    raise _sdk_error(action.split(":")[0], exc) from exc
                raise service_error(service, exc) from exc
            finally:
                if service == "lambda" and len(invocations) > known:
                    # The function's run (its whole timeout when it timed out) passes on
                    # the execution's virtual clock, where Express's 5 minutes are counted
                    # (and billed: `result.virtual_seconds`).
                    done = invocations[-1]
                    context.spend((done.duration_ms + done.init_ms) / 1000)
                else:
                    self.busy_seconds[context.execution_arn] += time.perf_counter() - started

    def _optimized(self, service: str, action: str, parameters: Any) -> Callable[[], Any]:
        if action.endswith(".waitForTaskToken"):
            raise UnsupportedIntegrationError(f"{service}:{action}: task tokens are not emulated")
        if service == "lambda" and action == "invoke":
            return lambda: self._lambda_invoke(parameters)
        if service == "s3" and action == "getObject":
            return lambda: self._s3_get_object(parameters)
        if service == "states" and action.startswith("startExecution"):
            return lambda: self._start_execution(parameters, action)
        if service == "aws-sdk":
            sdk_service, _, sdk_action = action.partition(":")
            client = self.emulator.client(_SDK_CLIENTS.get(sdk_service, sdk_service))
            return lambda: _strip(getattr(client, _snake(sdk_action))(**parameters))
        if service == "dynamodb" and action in ("putItem", "getItem", "updateItem", "deleteItem"):
            method = getattr(self.emulator.client("dynamodb"), _snake(action))
            return lambda: _strip(method(**parameters))
        simple: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
            ("sqs", "sendMessage"): self._sqs_send,
            ("sns", "publish"): self._sns_publish,
            ("events", "putEvents"): self._put_events,
            ("s3", "listObjectsV2"): self._s3_list_objects,
            ("s3", "putObject"): self._s3_put_object,
        }
        perform = simple.get((service, action))
        if perform is None:
            raise UnsupportedIntegrationError(
                f"the emulator cannot run {OPTIMIZED}{service}:{action}"
            )
        return lambda: perform(parameters)

    def _lambda_invoke(self, parameters: dict[str, Any]) -> dict[str, Any]:
        params = {
            k: v
            for k, v in parameters.items()
            if k in ("FunctionName", "Qualifier", "InvocationType")
        }
        params["Payload"] = _text(parameters.get("Payload", {})).encode()
        response = self.emulator.client("lambda").invoke(**params)
        body = response["Payload"].read()
        payload = json.loads(body) if body else None
        if response.get("FunctionError"):
            error = payload or {}
            raise TaskError(str(error.get("errorType", "Lambda.Unknown")), body.decode())
        return {
            "Payload": payload,
            "StatusCode": response["StatusCode"],
            "ExecutedVersion": "$LATEST",
        }

    def _bare_lambda(self, function_arn: str, parameters: Any) -> Any:
        response = self.emulator.client("lambda").invoke(
            FunctionName=function_arn, Payload=_text(parameters).encode()
        )
        body = response["Payload"].read()
        payload = json.loads(body) if body else None
        if response.get("FunctionError"):
            raise TaskError(str((payload or {}).get("errorType", "Lambda.Unknown")), body.decode())
        return payload

    def _s3_get_object(self, parameters: dict[str, Any]) -> str | bytes | list[Any]:
        params = {k: parameters[k] for k in ("Bucket", "Key", "VersionId") if parameters.get(k)}
        body: bytes = self.emulator.client("s3").get_object(**params)["Body"].read()
        return s3_reader.object_body(body)

    def _s3_put_object(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """One file of a Distributed Map's ResultWriter export (its only use of this ARN).

        AWS documents the actions the role needs on the export's objects (it may write them
        as multipart uploads): every one is checked here, not just the PutObject made.
        """
        bucket, key = str(parameters["Bucket"]), str(parameters["Key"])
        arn = f"arn:aws:s3:::{bucket}/{key}"
        principal = current_principal()
        guard = self.emulator.guard
        for action in STEP_FUNCTIONS_RESULT_WRITER_ACTIONS.value:
            if principal is None:
                break
            if guard.decide(principal, Need(action, arn)) is not Decision.ALLOW:
                guard.denials.append(Denial(principal.arn, action, arn))
                raise TaskError(
                    "S3.AccessDenied",
                    f"{principal.arn} is not authorized to perform: {action} on resource: {arn}",
                )
        body = parameters.get("Body", "")
        data = body.encode("utf-8") if isinstance(body, str) else _text(body).encode("utf-8")
        return _strip(self.emulator.client("s3").put_object(Bucket=bucket, Key=key, Body=data))

    def _s3_list_objects(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """Every page of the listing (an ItemReader); each page is checked as the role."""
        return s3_reader.list_objects(self.emulator.client("s3"), parameters)

    def _sqs_send(self, parameters: dict[str, Any]) -> dict[str, Any]:
        params = dict(parameters)
        params["MessageBody"] = _text(params["MessageBody"])
        return _strip(self.emulator.client("sqs").send_message(**params))

    def _sns_publish(self, parameters: dict[str, Any]) -> dict[str, Any]:
        params = dict(parameters)
        params["Message"] = _text(params["Message"])
        return _strip(self.emulator.client("sns").publish(**params))

    def _put_events(self, parameters: dict[str, Any]) -> dict[str, Any]:
        entries = [{**e, "Detail": _text(e.get("Detail", {}))} for e in parameters["Entries"]]
        response = self.emulator.client("events").put_events(Entries=entries)
        if response.get("FailedEntryCount"):
            raise TaskError("EventBridge.FailedEntry", json.dumps(response["Entries"]))
        return _strip(response)

    def _start_execution(self, parameters: dict[str, Any], action: str) -> Any:
        params = dict(parameters)
        if "Input" in params:
            params["input"] = _text(params.pop("Input"))
        params = {k[:1].lower() + k[1:]: v for k, v in params.items()}
        if action != "startExecution":
            raise UnsupportedIntegrationError(
                f"states:{action}: waiting for a child execution is not emulated"
            )
        started = _strip(self.emulator.client("stepfunctions").start_execution(**params))
        return {k[:1].upper() + k[1:]: v for k, v in started.items()}


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    """A boto3 response as the JSON a task result is: no metadata, dates as ISO text."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    result: dict[str, Any] = json.loads(json.dumps(body, default=_json_default))
    return result


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
