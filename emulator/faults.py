"""Fault injection: make chosen AWS calls or Lambda invocations fail a given number of times.

The pipelines claim to survive throttling, transient service errors, function errors and
timeouts without losing or duplicating a record; this is how the tests make those
happen on purpose. `Faults` wraps the two places every piece of work passes through:

- botocore's `BaseClient._make_api_call` (on top of the IAM guard's wrapper), for
  service calls: DynamoDB throttling, SQS send failures, any call failing with any code;
- the emulator's `LambdaRuntime.invoke`, for function errors and `Sandbox.Timedout`.

A fault matches a service/operation (or a function) and, optionally, a resource named
in the request (table, queue URL, function, topic, state machine, bucket: a substring,
so a logical name such as `validation-orders` matches the physical `validation-orders-
1a2b3c4`). By default only the workload's calls are hit (those made as a principal: a
handler, a state machine task, a delivery), not the emulator's nor a test's own.
`times` counts the calls that fail; `None` fails every call until `clear()` (a broken
dependency that an operator later fixes).

Faults fire before the call reaches moto, so nothing of a failed call happens, and
botocore's own retries (which run inside `_make_api_call`) do not see them: `times=2`
means the caller sees two failures. A timed-out invocation runs the handler first (its
side effects stay, as they may in AWS) and then reports the timeout.

A crash (`crash_after`) is the one fault that lets a call succeed: right after the Nth
successful matching call made by a function, the invocation dies (`InjectedCrash`, a
BaseException, so no `except Exception` in handler code can swallow it: the process is
gone). The call's effect stays, nothing after it runs, and the invocation fails with
`Runtime.ExitError`, as a Lambda whose process exited does. That is how a test puts a
crash between two side effects of a handler (after PutEvents, before the idempotency
record is saved; after the ledger write, before the event).

    with Faults(emulator) as faults:
        faults.throttle_dynamodb(times=2, table="validation-orders")
        faults.lambda_errors("validation-validate", times=1)
        faults.crash_after("premium-process-premium", "events", "PutEvents")
        ...run a scenario...
        assert faults.hits
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from unittest import mock

import botocore.client
from botocore.exceptions import ClientError

from emulator.iam.guard import current_principal
from emulator.lambdas.runtime import Invocation

if TYPE_CHECKING:
    from emulator.engine import Emulator

DYNAMODB_WRITES: Final = frozenset(
    {"BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}
)
SQS_SENDS: Final = frozenset({"SendMessage", "SendMessageBatch"})
THROTTLED: Final = "ProvisionedThroughputExceededException"
THROTTLED_MESSAGE: Final = (
    "The level of configured provisioned throughput for the table was exceeded (injected)"
)


@dataclass
class Fault:
    """One injected failure rule; `fired` counts how often it has struck."""

    description: str
    remaining: int | None
    fired: int = 0

    def take(self) -> bool:
        """Strike once if any strikes are left."""
        if self.remaining is not None:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
        self.fired += 1
        return True

    @property
    def spent(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass(frozen=True)
class Hit:
    """One call or invocation a fault made fail."""

    fault: str
    target: str
    principal: str | None


@dataclass
class _CallFault:
    fault: Fault
    service: str
    operations: frozenset[str]
    resource: str | None
    workload_only: bool
    respond: Callable[[str, dict[str, Any]], Any]


@dataclass
class _InvokeFault:
    fault: Fault
    function: str
    timeout: bool
    error_type: str
    message: str


@dataclass
class _CrashFault:
    fault: Fault
    function: str
    service: str
    operations: frozenset[str]
    after: int
    seen: int = 0


@dataclass
class _State:
    calls: list[_CallFault] = field(default_factory=list)
    invocations: list[_InvokeFault] = field(default_factory=list)
    crashes: list[_CrashFault] = field(default_factory=list)


class InjectedCrash(BaseException):
    """The function's process died (injected): not an Exception, so handlers cannot catch it."""


# The function whose handler is running (for crash rules); handler worker threads, which
# do not inherit it, are matched by the invoking role instead.
_RUNNING: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "emulator_fault_function", default=None
)


def named_resources(params: Mapping[str, Any]) -> list[str]:
    """Every resource identifier a request names (what `resource=` is matched against)."""
    names = [
        str(params[key])
        for key in (
            "TableName",
            "QueueUrl",
            "FunctionName",
            "TopicArn",
            "stateMachineArn",
            "Bucket",
            "EventBusName",
        )
        if key in params
    ]
    names += [str(table) for table in params.get("RequestItems") or {}]
    for item in params.get("TransactItems") or []:
        for operation in item.values():
            if isinstance(operation, Mapping) and "TableName" in operation:
                names.append(str(operation["TableName"]))
    for entry in params.get("Entries") or []:
        if isinstance(entry, Mapping) and "EventBusName" in entry:
            names.append(str(entry["EventBusName"]))
    return names


def client_error(operation: str, code: str, message: str, status: int = 400) -> ClientError:
    """The ClientError botocore raises for an AWS error response."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class Faults:
    """The fault rules of one open emulator; use as a context manager inside it."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.hits: list[Hit] = []
        self._state = _State()
        self._exit = contextlib.ExitStack()
        self._original_call: Callable[..., Any] | None = None
        self._wrapper: Callable[..., Any] | None = None

    # lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Faults:
        self._install_calls()
        self._exit.enter_context(
            mock.patch.object(self.emulator.runtime, "invoke", self._invoke_wrapper())
        )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit.close()
        if self._original_call is not None:
            if botocore.client.BaseClient._make_api_call is self._wrapper:
                botocore.client.BaseClient._make_api_call = self._original_call
            self._original_call = None

    def clear(self) -> None:
        """Remove every rule (the fix); hits stay for the test to read."""
        self._state = _State()

    @property
    def active(self) -> list[Fault]:
        """Rules that can still strike."""
        rules = [c.fault for c in self._state.calls] + [i.fault for i in self._state.invocations]
        rules += [c.fault for c in self._state.crashes]
        return [fault for fault in rules if not fault.spent]

    # service calls -------------------------------------------------------------------
    def fail_calls(
        self,
        service: str,
        operations: Collection[str],
        *,
        times: int | None = 1,
        code: str = "InternalFailure",
        message: str = "injected failure",
        status: int = 500,
        resource: str | None = None,
        workload_only: bool = True,
    ) -> Fault:
        """Calls of `operations` on `service` raise the ClientError `code`."""
        description = f"{service}:{'|'.join(sorted(operations))} fails with {code}"

        def respond(operation: str, params: dict[str, Any]) -> Any:
            raise client_error(operation, code, message, status)

        return self._add_call(
            description,
            service=service,
            operations=operations,
            times=times,
            resource=resource,
            workload_only=workload_only,
            respond=respond,
        )

    def throttle_dynamodb(
        self,
        *,
        times: int | None = 1,
        table: str | None = None,
        operations: Collection[str] = DYNAMODB_WRITES,
        unprocessed: bool = False,
    ) -> Fault:
        """DynamoDB refuses writes as throttled.

        `unprocessed=True` makes `BatchWriteItem` answer as a throttled table does under
        load (every item handed back in `UnprocessedItems`, nothing written) instead of
        raising `ProvisionedThroughputExceededException`.
        """
        description = f"dynamodb throttles {'|'.join(sorted(operations))}" + (
            " (unprocessed items)" if unprocessed else ""
        )

        def respond(operation: str, params: dict[str, Any]) -> Any:
            if unprocessed and operation == "BatchWriteItem":
                return {"UnprocessedItems": params.get("RequestItems", {})}
            raise client_error(operation, THROTTLED, THROTTLED_MESSAGE, 400)

        return self._add_call(
            description,
            service="dynamodb",
            operations=operations,
            times=times,
            resource=table,
            workload_only=True,
            respond=respond,
        )

    def fail_sqs_sends(
        self, *, times: int | None = 1, queue: str | None = None, partial: bool = False
    ) -> Fault:
        """SQS refuses sends: a 500 `InternalError`, or (`partial=True`) `SendMessageBatch`
        reporting every entry as failed with `SenderFault: false` (retryable)."""
        description = "sqs sends fail" + (" (batch entries)" if partial else "")

        def respond(operation: str, params: dict[str, Any]) -> Any:
            if partial and operation == "SendMessageBatch":
                return {
                    "Successful": [],
                    "Failed": [
                        {
                            "Id": entry["Id"],
                            "SenderFault": False,
                            "Code": "InternalError",
                            "Message": "injected failure",
                        }
                        for entry in params.get("Entries", [])
                    ],
                }
            raise client_error(operation, "InternalError", "injected failure", 500)

        return self._add_call(
            description,
            service="sqs",
            operations=SQS_SENDS,
            times=times,
            resource=queue,
            workload_only=True,
            respond=respond,
        )

    def _add_call(
        self,
        description: str,
        *,
        service: str,
        operations: Collection[str],
        times: int | None,
        resource: str | None,
        workload_only: bool,
        respond: Callable[[str, dict[str, Any]], Any],
    ) -> Fault:
        if resource:
            description += f" on {resource}"
        fault = Fault(description, times)
        self._state.calls.append(
            _CallFault(fault, service, frozenset(operations), resource, workload_only, respond)
        )
        return fault

    def _install_calls(self) -> None:
        original = botocore.client.BaseClient._make_api_call
        faults = self

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            for rule in faults._state.calls:
                if faults._strikes(rule, service, operation, params):
                    return rule.respond(operation, params)
            response = original(client, operation, params)
            if faults._state.crashes:
                faults._crash_if_due(service, operation, params)
            return response

        self._original_call = original
        self._wrapper = _make_api_call
        botocore.client.BaseClient._make_api_call = _make_api_call

    def _strikes(
        self, rule: _CallFault, service: str, operation: str, params: dict[str, Any]
    ) -> bool:
        if rule.service != service or operation not in rule.operations or rule.fault.spent:
            return False
        principal = current_principal()
        if rule.workload_only and principal is None:
            return False
        names = named_resources(params)
        if rule.resource is not None and not any(rule.resource in name for name in names):
            return False
        if not rule.fault.take():
            return False
        target = f"{service}:{operation} {', '.join(names)}".strip()
        self.hits.append(Hit(rule.fault.description, target, _arn(principal)))
        return True

    # crashes -------------------------------------------------------------------------------
    def crash_after(
        self,
        function: str,
        service: str,
        operation: str,
        *,
        nth: int = 1,
        times: int | None = 1,
    ) -> Fault:
        """`function` dies right after its `nth` successful `service:operation` call.

        Counted over every invocation of the function since the rule was added; with
        `times`, the next that many matching calls after the nth crash too (None: every
        one). The call's effect stays; the invocation fails with `Runtime.ExitError`.
        """
        if nth < 1:
            raise ValueError(f"nth counts calls from 1, not {nth}")
        fault = Fault(f"{function} crashes after {service}:{operation} #{nth}", times)
        self._state.crashes.append(
            _CrashFault(fault, function, service, frozenset({operation}), after=nth - 1)
        )
        return fault

    def _crash_if_due(self, service: str, operation: str, params: dict[str, Any]) -> None:
        functions = self._running_functions()
        for rule in self._state.crashes:
            if rule.service != service or operation not in rule.operations or rule.fault.spent:
                continue
            if not any(rule.function in name for name in functions):
                continue
            rule.seen += 1
            if rule.seen <= rule.after or not rule.fault.take():
                continue
            target = f"{service}:{operation} {', '.join(named_resources(params))}".strip()
            self.hits.append(Hit(rule.fault.description, target, _arn(current_principal())))
            raise InjectedCrash(f"{rule.fault.description} (injected)")

    def _running_functions(self) -> list[str]:
        """The function making the current call: the invocation's own, else by its role."""
        running = _RUNNING.get()
        if running is not None:
            return [running]
        principal = current_principal()
        if principal is None:
            return []
        return [
            loaded.config.name
            for loaded in self.emulator.runtime.functions.values()
            if loaded.config.role_arn == principal.arn
        ]

    # Lambda invocations ----------------------------------------------------------------
    def lambda_errors(
        self,
        function: str,
        *,
        times: int | None = 1,
        error_type: str = "InjectedFault",
        message: str = "injected function error",
    ) -> Fault:
        """Invocations of `function` fail with a function error, the handler not run."""
        fault = Fault(f"{function} fails with {error_type}", times)
        self._state.invocations.append(_InvokeFault(fault, function, False, error_type, message))
        return fault

    def lambda_timeouts(self, function: str, *, times: int | None = 1) -> Fault:
        """Invocations of `function` run, then report `Sandbox.Timedout`."""
        fault = Fault(f"{function} times out", times)
        self._state.invocations.append(_InvokeFault(fault, function, True, "", ""))
        return fault

    def _invoke_wrapper(self) -> Callable[[str, Any], Invocation]:
        runtime = self.emulator.runtime
        original = runtime.invoke
        faults = self

        def crashing(name_or_arn: str, event: Any) -> Invocation:
            """Run the handler; an injected crash becomes the exit error Lambda reports."""
            config = runtime.get(name_or_arn).config
            token = _RUNNING.set(config.name)
            try:
                return original(name_or_arn, event)
            except InjectedCrash as crash:
                request_id = f"crashed-{len(faults.hits)}"
                return Invocation(
                    function=config.name,
                    request_id=request_id,
                    payload=None,
                    error={
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited "
                        f"without providing a reason ({crash})",
                    },
                    duration_ms=1.0,
                    init_ms=0.0,
                    billed_ms=1,
                )
            finally:
                _RUNNING.reset(token)

        def invoke(name_or_arn: str, event: Any) -> Invocation:
            config = runtime.get(name_or_arn).config
            rule = next(
                (
                    r
                    for r in faults._state.invocations
                    if r.function in config.name and not r.fault.spent
                ),
                None,
            )
            if rule is None or not rule.fault.take():
                return crashing(name_or_arn, event)
            faults.hits.append(Hit(rule.fault.description, f"lambda:Invoke {config.name}", None))
            if rule.timeout:
                done = crashing(name_or_arn, event)
                return dataclasses.replace(
                    done,
                    payload=None,
                    error={
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": (
                            f"RequestId: {done.request_id} Error: Task timed out after "
                            f"{config.timeout_seconds:.2f} seconds (injected)"
                        ),
                    },
                    duration_ms=max(done.duration_ms, config.timeout_seconds * 1000.0),
                )
            request_id = f"injected-{rule.fault.fired}"
            return Invocation(
                function=config.name,
                request_id=request_id,
                payload=None,
                error={
                    "errorMessage": rule.message,
                    "errorType": rule.error_type,
                    "requestId": request_id,
                    "stackTrace": [],
                },
                duration_ms=1.0,
                init_ms=0.0,
                billed_ms=1,
            )

        return invoke


def _arn(principal: Any) -> str | None:
    return str(principal.arn) if principal is not None else None
