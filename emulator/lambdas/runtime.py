"""Run Lambda handlers in process, each from its own unpacked archive.

Every function's archive carries its own `runtime` package, so two functions must not
share imported modules: each function keeps its own set of the archive's top-level
modules (`sys.modules` entries) and puts them back, together with its directory on
`sys.path`, only while it is being imported or invoked. Modules outside the archive
(boto3, Powertools standing in for the layer) are shared, as a layer would be.

An invocation applies the function's environment plus the variables Lambda sets, passes
a Lambda-like context, captures what the handler prints (its log), makes every AWS call
as the function's role, and measures the duration. A handler exception becomes a
function error (`errorType`, `errorMessage`, `stackTrace`); a run longer than the
configured timeout becomes `Sandbox.Timedout` (the handler is not interrupted: its
side effects stay, as they may in AWS).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import math
import os
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from types import ModuleType
from typing import Any, TextIO

from emulator.iam.guard import acting_as
from emulator.iam.policies import Principal
from emulator.lambdas.virtual_time import VirtualTime, WallClock, archive_modules
from emulator.program import REGION

Clock = Callable[[], float]


@dataclass(frozen=True)
class FunctionConfig:
    """What the emulator needs to run one deployed function."""

    name: str
    arn: str
    role_arn: str
    handler: str
    code_dir: Path
    runtime: str = "python3.13"
    memory_mb: int = 128
    timeout_seconds: int = 3
    environment: dict[str, str] = field(default_factory=dict)
    log_group: str = ""
    log_format: str = "Text"
    application_log_level: str = ""
    tracing: bool = False
    dead_letter_arn: str | None = None


@dataclass
class LambdaContext:
    """The attributes and method of the context object Lambda passes to a handler."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float
    clock: Clock
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.clock()) * 1000))


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation; `error` is the payload Lambda returns on failure."""

    function: str
    request_id: str
    payload: Any
    error: dict[str, Any] | None
    duration_ms: float
    init_ms: float
    billed_ms: int

    @property
    def failed(self) -> bool:
        return self.error is not None

    def response_body(self) -> bytes:
        return json.dumps(self.error if self.error is not None else self.payload).encode()


class FunctionLog(io.StringIO):
    """Everything one function printed (its CloudWatch log stream, in memory).

    `bytes_written` counts the UTF-8 bytes as they arrive (what CloudWatch Logs ingests),
    so metering an invocation does not re-read the whole log.
    """

    bytes_written: int = 0

    def write(self, text: str) -> int:
        self.bytes_written += len(text.encode("utf-8", "surrogatepass"))
        return super().write(text)

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


class _FunctionOutput(io.TextIOBase):
    """The stdout/stderr every handler sees: writes go to the running function's log.

    Loggers keep the stream they found at import (Powertools' Logger does, and `logging`
    keeps a logger's handlers for the life of the process). Giving every handler this one
    object, rather than each function's own log, keeps a logger created by one function
    or one emulator from writing into another's log later.
    """

    def __init__(self) -> None:
        super().__init__()
        self.current: list[FunctionLog] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.current:
            return self.current[-1].write(text)
        return sys.__stdout__.write(text) if sys.__stdout__ is not None else len(text)

    @contextlib.contextmanager
    def into(self, log: FunctionLog) -> Iterator[None]:
        self.current.append(log)
        try:
            with contextlib.redirect_stdout(self), contextlib.redirect_stderr(self):
                yield
        finally:
            self.current.pop()


FUNCTION_OUTPUT = _FunctionOutput()


def _writes_to_functions(logger: object) -> bool:
    """A logger some handler's code set up to print (its handler writes to function logs)."""
    handlers = getattr(logger, "handlers", ())
    return any(getattr(handler, "stream", None) is FUNCTION_OUTPUT for handler in handlers)


class IsolatedModules:
    """The archive's own top-level modules, swapped into `sys.modules` while active."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.names = {
            p.stem if p.suffix == ".py" else p.name
            for p in root.iterdir()
            if p.suffix == ".py" or (p.is_dir() and not p.name.startswith("__"))
        }
        self.modules: dict[str, ModuleType] = {}

    def _owned(self, name: str) -> bool:
        return name.split(".", 1)[0] in self.names

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        outside = {k: sys.modules.pop(k) for k in [k for k in sys.modules if self._owned(k)]}
        sys.modules.update(self.modules)
        sys.path.insert(0, str(self.root))
        try:
            yield
        finally:
            sys.path.remove(str(self.root))
            self.modules = {
                k: sys.modules.pop(k) for k in [k for k in sys.modules if self._owned(k)]
            }
            sys.modules.update(outside)


@contextlib.contextmanager
def _warnings_to(log: FunctionLog) -> Iterator[None]:
    """Warnings a handler raises land in its log, as Lambda's runtime prints them."""

    def show(  # noqa: PLR0917 - the signature of warnings.showwarning
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        log.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class LoadedFunction:
    """One function's execution environment: modules, handler, log; kept warm.

    An environment runs one invocation at a time, as on Lambda: an invocation that
    arrives while this one is busy (interleaved work, or a handler invoking its own
    function) gets another environment of the function (`spares`, each with its own
    cold start and module state), all writing to the function's one log.
    """

    def __init__(
        self,
        config: FunctionConfig,
        log: FunctionLog | None = None,
        logger_names: set[str] | None = None,
    ) -> None:
        self.config = config
        self.modules = IsolatedModules(config.code_dir)
        self.log = log if log is not None else FunctionLog()
        self.handler: Callable[[Any, Any], Any] | None = None
        self.busy = False
        self.spares: list[LoadedFunction] = []
        self.logger_names = logger_names if logger_names is not None else set()
        """Loggers the function's cold starts created (shared by its environments)."""

    def idle_environment(self) -> LoadedFunction:
        """This environment if it is free, else a free (or new) one of the same function."""
        if not self.busy:
            return self
        for spare in self.spares:
            if not spare.busy:
                return spare
        spare = LoadedFunction(self.config, self.log, self.logger_names)
        self.spares.append(spare)
        return spare

    def environment(self, request_id: str) -> dict[str, str]:
        c = self.config
        values = {
            **c.environment,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": c.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(c.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": c.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"emulator/[$LATEST]{c.name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{c.runtime}",
            "LAMBDA_TASK_ROOT": str(c.code_dir),
            "_HANDLER": c.handler,
            "TZ": ":UTC",
        }
        if c.log_format == "JSON":
            values["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            if c.application_log_level:
                values["AWS_LAMBDA_LOG_LEVEL"] = c.application_log_level
        if c.tracing:
            values["_X_AMZN_TRACE_ID"] = (
                f"Root=1-{request_id[:8]}-{request_id[9:13]}{request_id[14:18]};Sampled=1"
            )
        return values

    def load_handler(self) -> Callable[[Any, Any], Any]:
        """Import the handler (the cold start), inside the function's environment.

        `logging` keeps one logger per name for the whole process; Powertools' Logger
        reuses one it finds configured, correlation id included. So another environment's
        loggers are taken out of the registry first: each environment's Logger gets its
        own, as each Lambda environment (a process of its own) has, and two interleaved
        invocations of one function never log under each other's correlation id. Taken
        out: the loggers this function's cold starts created and any logger a handler's
        code configured to print (to `FUNCTION_OUTPUT`), e.g. an earlier emulator's.
        """
        registry = logging.Logger.manager.loggerDict
        configured = [name for name, logger in registry.items() if _writes_to_functions(logger)]
        for name in {*self.logger_names, *configured}:
            registry.pop(name, None)
        before = set(registry)
        module_name, _, attribute = self.config.handler.rpartition(".")
        module = importlib.import_module(module_name)
        handler: Callable[[Any, Any], Any] = getattr(module, attribute)
        self.logger_names.update(set(registry) - before)
        return handler


class LambdaRuntime:
    """All deployed functions, invoked by name or ARN."""

    def __init__(
        self,
        *,
        clock: Clock = time.perf_counter,
        seed: int = 0,
        wall_clock: WallClock | None = None,
    ) -> None:
        self.functions: dict[str, LoadedFunction] = {}
        self._clock = clock
        self.virtual_time = VirtualTime(wall_clock) if wall_clock is not None else None
        """Handlers' wall clock, when given (see `emulator.lambdas.virtual_time`)."""
        self._rng = Random(seed)  # noqa: S311 - request ids, reproducible per seed

    def register(self, config: FunctionConfig) -> None:
        self.functions[config.name] = LoadedFunction(config)

    def get(self, name_or_arn: str) -> LoadedFunction:
        """A function by name, `name:qualifier` or ARN."""
        name = name_or_arn.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
        try:
            return self.functions[name]
        except KeyError:
            raise KeyError(f"no function {name_or_arn!r} in the emulator") from None

    def invoke(self, name_or_arn: str, event: Any) -> Invocation:
        """Run the handler once (importing it first if cold) and report the outcome."""
        function = self.get(name_or_arn).idle_environment()
        function.busy = True
        try:
            return self._invoke(function, event)
        finally:
            function.busy = False

    def _invoke(self, function: LoadedFunction, event: Any) -> Invocation:
        config = function.config
        request_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        started = self._clock()
        init_ms = 0.0
        payload: Any = None
        error: dict[str, Any] | None = None
        with (
            function.modules.active(),
            _environment(function.environment(request_id)),
            FUNCTION_OUTPUT.into(function.log),
            _warnings_to(function.log),
            acting_as(Principal.role(config.role_arn)),
        ):
            try:
                if function.handler is None:
                    function.handler = function.load_handler()
                    init_ms = (self._clock() - started) * 1000
                if self.virtual_time is not None:  # first run: scan; then: the modules kept
                    kept = function.modules.modules
                    self.virtual_time.apply(
                        kept.values() if kept else archive_modules(function.modules._owned)
                    )
                context = LambdaContext(
                    function_name=config.name,
                    invoked_function_arn=config.arn,
                    memory_limit_in_mb=config.memory_mb,
                    aws_request_id=request_id,
                    log_group_name=config.log_group,
                    log_stream_name=f"emulator/[$LATEST]{config.name}",
                    deadline=started + init_ms / 1000 + config.timeout_seconds,
                    clock=self._clock,
                )
                result = function.handler(event, context)
            except Exception as exc:  # any handler failure is a function error
                error = _error_payload(exc, request_id)
            else:
                try:
                    payload = json.loads(json.dumps(result))
                except (TypeError, ValueError) as exc:
                    error = {
                        "errorMessage": f"Unable to marshal response: {exc}",
                        "errorType": "Runtime.MarshalError",
                        "requestId": request_id,
                        "stackTrace": [],
                    }
        duration_ms = (self._clock() - started) * 1000 - init_ms
        if duration_ms > config.timeout_seconds * 1000:
            payload, error = (
                None,
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": (
                        f"RequestId: {request_id} Error: Task timed out after "
                        f"{config.timeout_seconds:.2f} seconds"
                    ),
                },
            )
        return Invocation(
            function=config.name,
            request_id=request_id,
            payload=payload,
            error=error,
            duration_ms=duration_ms,
            init_ms=init_ms,
            billed_ms=math.ceil(duration_ms + init_ms),
        )


def _error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The body Lambda's Python runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }
