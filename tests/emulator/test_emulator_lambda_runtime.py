"""Lambda handlers run in process from their own unpacked archive."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pulumi
import pytest

from emulator.lambdas.archive import materialise
from emulator.lambdas.runtime import FunctionConfig, Invocation, LambdaRuntime

HANDLER = """
import os
from runtime.family import settings

calls = 0

def handle(event, context):
    global calls
    calls += 1
    print("handling", event)
    return {
        "family": settings.FAMILY,
        "calls": calls,
        "table": os.environ.get("TABLE_NAME"),
        "function": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
        "handler": os.environ.get("_HANDLER"),
        "context": [
            context.function_name, context.memory_limit_in_mb, context.invoked_function_arn
        ],
        "remaining": context.get_remaining_time_in_millis(),
    }

def fail(event, context):
    raise LookupError("no such order")

def slow(event, context):
    event["spend_time"]()  # the test's clock jumps forward
    return "done"
"""


def _package(root: Path, family: str) -> Path:
    """An archive like the components build: runtime/__init__.py plus one family."""
    (root / "src" / family).mkdir(parents=True)
    (root / "src" / family / "__init__.py").write_text("")
    (root / "src" / family / "settings.py").write_text(f"FAMILY = {family!r}\n")
    (root / "src" / "handler.py").write_text(
        textwrap.dedent(HANDLER).replace("runtime.family", f"runtime.{family}")
    )
    archive = pulumi.AssetArchive(
        {
            "runtime/__init__.py": pulumi.StringAsset(""),
            "runtime/handler.py": pulumi.FileAsset(str(root / "src" / "handler.py")),
            f"runtime/{family}": pulumi.FileArchive(str(root / "src" / family)),
        }
    )
    code = root / "code"
    materialise(archive, code)
    return code


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(tmp_path: Path, clock: FakeClock) -> LambdaRuntime:
    runtime = LambdaRuntime(clock=clock)
    for name in ("orders", "ledger"):
        runtime.register(
            FunctionConfig(
                name=name,
                arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                role_arn="arn:aws:iam::123456789012:role/r",
                handler="runtime.handler.handle",
                code_dir=_package(tmp_path / name, name),
                memory_mb=256,
                timeout_seconds=3,
                environment={"TABLE_NAME": f"{name}-table"},
            )
        )
    return runtime


def test_archives_unpack_nested_assets(tmp_path: Path) -> None:
    code = _package(tmp_path, "orders")
    assert sorted(p.relative_to(code).as_posix() for p in code.rglob("*.py")) == [
        "runtime/__init__.py",
        "runtime/handler.py",
        "runtime/orders/__init__.py",
        "runtime/orders/settings.py",
    ]


def test_each_function_imports_from_its_own_archive_and_stays_warm(runtime: LambdaRuntime) -> None:
    first = [runtime.invoke(name, {}).payload for name in ("orders", "ledger", "orders")]
    assert [(p["family"], p["calls"]) for p in first] == [
        ("orders", 1),
        ("ledger", 1),
        ("orders", 2),
    ]


def test_the_process_keeps_its_own_runtime_package(runtime: LambdaRuntime) -> None:
    import runtime as repo_runtime  # the repository's package, as the runtime tests use it

    runtime.invoke("orders", {})
    assert sys.modules["runtime"] is repo_runtime


def test_environment_and_context_apply_during_the_call_only(runtime: LambdaRuntime) -> None:
    payload = runtime.invoke("arn:aws:lambda:us-east-1:123456789012:function:ledger", {}).payload
    assert payload["table"] == "ledger-table"
    assert payload["function"] == "ledger"
    assert payload["handler"] == "runtime.handler.handle"
    assert payload["context"] == [
        "ledger",
        256,
        "arn:aws:lambda:us-east-1:123456789012:function:ledger",
    ]
    assert payload["remaining"] == 3000
    assert "TABLE_NAME" not in os.environ


def test_what_the_handler_prints_is_its_log_not_stdout(
    runtime: LambdaRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime.invoke("orders", {"id": 7})
    assert capsys.readouterr().out == ""
    assert "handling {'id': 7}" in runtime.get("orders").log.lines()


def test_a_handler_exception_is_a_function_error(runtime: LambdaRuntime) -> None:
    config = runtime.get("orders").config
    runtime.register(
        FunctionConfig(**{**vars(config), "name": "failing", "handler": "runtime.handler.fail"})
    )
    invocation = runtime.invoke("failing", {})
    assert invocation.failed
    assert invocation.payload is None
    assert invocation.error is not None
    assert invocation.error["errorType"] == "LookupError"
    assert invocation.error["errorMessage"] == "no such order"
    assert invocation.error["stackTrace"]


def test_running_past_the_timeout_is_sandbox_timedout(
    runtime: LambdaRuntime, clock: FakeClock
) -> None:
    config = runtime.get("orders").config
    runtime.register(
        FunctionConfig(**{**vars(config), "name": "slow", "handler": "runtime.handler.slow"})
    )

    def spend_time() -> None:
        clock.now += 3.5

    invocation = runtime.invoke("slow", {"spend_time": spend_time})
    assert invocation.payload is None
    assert invocation.error is not None
    assert invocation.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in invocation.error["errorMessage"]
    assert invocation.billed_ms >= 3500


def test_an_invocation_while_the_environment_is_busy_gets_another_environment(
    runtime: LambdaRuntime,
) -> None:
    """As on Lambda, one environment runs one invocation at a time: a second one arriving
    meanwhile (interleaved work, a function invoking itself) gets its own, whose module
    state is its own; both write to the function's log."""
    config = runtime.get("orders").config
    runtime.register(
        FunctionConfig(**{**vars(config), "name": "pair", "handler": "runtime.handler.slow"})
    )
    inner: list[Invocation] = []

    def invoke_again() -> None:
        inner.append(runtime.invoke("pair", {"spend_time": lambda: None}))

    outer = runtime.invoke("pair", {"spend_time": invoke_again})
    assert (outer.payload, inner[0].payload) == ("done", "done")
    function = runtime.get("pair")
    assert len(function.spares) == 1
    assert function.spares[0].log is function.log
    assert function.spares[0].modules is not function.modules
    runtime.invoke("pair", {"spend_time": invoke_again})  # both free again: both reused
    assert len(function.spares) == 1


def test_durations_are_billed_in_whole_milliseconds(runtime: LambdaRuntime) -> None:
    invocation = runtime.invoke("orders", {})
    assert isinstance(invocation.billed_ms, int)
    assert invocation.billed_ms >= invocation.duration_ms
