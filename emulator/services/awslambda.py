"""Lambda `Invoke` answered by running the function in process (`emulator.lambdas`).

moto's own invoke needs Docker; here `LambdaFunction.invoke` is replaced while the
emulator runs, so a boto3 `invoke` (from a state machine task, a rule target or user
code) runs the deployed handler. `RequestResponse` runs at once and returns the handler's
result or its error payload with `FunctionError: Unhandled`; `Event` is queued and, like
AWS, retried twice on a function error, then sent to the function's dead-letter queue
(as the function's role) or reported as dropped. A payload over Lambda's limit for its
invocation type is refused with `RequestEntityTooLargeException`, as Invoke refuses it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
from unittest import mock

from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError

from emulator.arns import queue_url
from emulator.iam.guard import acting_as
from emulator.iam.policies import Principal
from emulator.lambdas.runtime import Invocation
from orderflow.aws_facts import LAMBDA_ASYNC_PAYLOAD_BYTES, LAMBDA_SYNC_PAYLOAD_BYTES

if TYPE_CHECKING:
    from emulator.engine import Emulator

ASYNC_RETRY_DELAYS = (60.0, 120.0)  # Lambda's two asynchronous retries, 1 and 2 minutes apart


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class RequestEntityTooLarge(JsonRESTError):
    """Invoke's answer to a payload over the synchronous or asynchronous limit (HTTP 413)."""

    code = 413

    def __init__(self, limit: int) -> None:
        super().__init__(
            "RequestEntityTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        )


class LambdaService:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.invocations: list[Invocation] = []

    def patches(self) -> list[AbstractContextManager[Any]]:
        service = self

        def invoke(
            function: LambdaFunction, body: str, request_headers: Any, response_headers: Any
        ) -> bytes:
            return service._answer(function.function_name, body, request_headers, response_headers)

        return [mock.patch.object(LambdaFunction, "invoke", invoke)]

    def _answer(
        self,
        name: str,
        body: str,
        request_headers: Mapping[str, str],
        response_headers: dict[str, str],
    ) -> bytes:
        kind = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
        limit = (LAMBDA_ASYNC_PAYLOAD_BYTES if kind == "Event" else LAMBDA_SYNC_PAYLOAD_BYTES).value
        if len((body or "").encode("utf-8")) > limit:
            raise RequestEntityTooLarge(limit)
        event = json.loads(body) if body else {}
        if kind == "DryRun":
            return b""
        if kind == "Event":
            self.emulator.submit(
                f"invoke {name} (async)", lambda: self.invoke_async(name, event, 0)
            )
            return b""
        invocation = self.invoke(name, event)
        if invocation.failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return invocation.response_body()

    def invoke(self, name: str, event: Any) -> Invocation:
        """Run the function once, metering it and reporting a function error."""
        function = self.emulator.runtime.get(name)
        logged = function.log.bytes_written
        invocation = self.emulator.runtime.invoke(name, event)
        self.invocations.append(invocation)
        self.emulator.meter.lambda_invocation(
            function.config.name,
            function.config.memory_mb,
            invocation.billed_ms,
            invocation.failed,
            log_group=function.config.log_group,
            log_bytes=function.log.bytes_written - logged,
        )
        if invocation.error is not None:
            self.emulator.error(
                "lambda",
                function=function.config.name,
                errorType=invocation.error.get("errorType"),
                errorMessage=invocation.error.get("errorMessage"),
            )
        return invocation

    def invoke_async(self, name: str, event: Any, attempt: int) -> None:
        invocation = self.invoke(name, event)
        if not invocation.failed:
            return
        if attempt < len(ASYNC_RETRY_DELAYS):
            self.emulator.submit(
                f"invoke {name} (async retry {attempt + 1})",
                lambda: self.invoke_async(name, event, attempt + 1),
                delay=ASYNC_RETRY_DELAYS[attempt],
            )
            return
        config = self.emulator.runtime.get(name).config
        if config.dead_letter_arn is None:
            self.emulator.error(
                "lambda",
                function=name,
                message="asynchronous event dropped after 3 attempts (no DLQ)",
            )
            return
        try:
            self._dead_letter(config.dead_letter_arn, config.role_arn, event, invocation)
        except ClientError as exc:
            self.emulator.error(
                "lambda",
                function=name,
                message=f"asynchronous event lost: the DLQ refused it ({exc})",
            )

    def _dead_letter(
        self, target_arn: str, role_arn: str, event: Any, invocation: Invocation
    ) -> None:
        error = invocation.error or {}
        attributes = {
            "RequestID": invocation.request_id,
            "ErrorCode": "200",
            "ErrorMessage": str(error.get("errorMessage", ""))[:1000],
        }
        body = json.dumps(event)
        with acting_as(Principal.role(role_arn)):
            if target_arn.split(":")[2] == "sqs":
                self.emulator.client("sqs").send_message(
                    QueueUrl=queue_url(target_arn),
                    MessageBody=body,
                    MessageAttributes={
                        k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                    },
                )
            else:
                self.emulator.client("sns").publish(
                    TopicArn=target_arn,
                    Message=body,
                    MessageAttributes={
                        k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                    },
                )
