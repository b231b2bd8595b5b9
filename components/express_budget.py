"""The worst-case duration of an Express workflow, checked when a component is built.

Why: an Express execution ends after 5 minutes, every Retry attempt and backoff included
(`STEP_FUNCTIONS_EXPRESS_MAX_SECONDS`). A Lambda task whose timeout x attempts + backoff
exceeds that never reaches its later retries: a slow call fails the whole child (a batch
of a file, a consolidation's rows) instead of being retried. So every component computes,
from the very definition it deploys, the longest path an Express execution (or an Express
Distributed Map child) can take, and refuses settings that cannot fit with a `ValueError`.

The model is the one AWS documents for Retry (`STEP_FUNCTIONS_RETRY_DEFAULTS`): each
retrier counts its own attempts, so a task runs at most 1 + the sum of every retrier's
MaxAttempts times, each attempt bounded by the state's TimeoutSeconds or, for a Lambda
task, the function's timeout; the n-th retry of a retrier waits IntervalSeconds x
BackoffRate^n, capped at MaxDelaySeconds (full jitter only shortens it). A Catch is taken
after the whole retry budget is spent, so the path through it starts that late. No
module here imports Pulumi: the emulator and tests use it on plain definitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orderflow.aws_facts import (
    LAMBDA_TIMEOUT_SECONDS,
    STEP_FUNCTIONS_EXPRESS_MAX_SECONDS,
    STEP_FUNCTIONS_RETRY_DEFAULTS,
)

EXPRESS = "EXPRESS"
_LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
_DEFAULTS = STEP_FUNCTIONS_RETRY_DEFAULTS.value


def backoff_seconds(retrier: Mapping[str, Any]) -> float:
    """The longest total wait one retrier can add (every one of its retries taken)."""
    interval = float(retrier.get("IntervalSeconds", _DEFAULTS["IntervalSeconds"]))
    rate = float(retrier.get("BackoffRate", _DEFAULTS["BackoffRate"]))
    cap = retrier.get("MaxDelaySeconds")
    total = 0.0
    for attempt in range(int(retrier.get("MaxAttempts", _DEFAULTS["MaxAttempts"]))):
        delay = interval * rate**attempt
        total += min(delay, float(cap)) if cap is not None else delay
    return total


def retry_worst_case_seconds(
    attempt_seconds: float, retriers: Sequence[Mapping[str, Any]]
) -> float:
    """attempt x (1 + every retrier's MaxAttempts) + every backoff: a task's longest run."""
    retries = sum(int(r.get("MaxAttempts", _DEFAULTS["MaxAttempts"])) for r in retriers)
    return attempt_seconds * (1 + retries) + sum(backoff_seconds(r) for r in retriers)


def _lambda_function(state: Mapping[str, Any]) -> str | None:
    resource = str(state.get("Resource", ""))
    if resource.startswith(_LAMBDA_INVOKE):
        for field in ("Parameters", "Arguments"):  # JSONPath or JSONata (a template may be text)
            given = state.get(field)
            if isinstance(given, Mapping) and isinstance(given.get("FunctionName"), str):
                return str(given["FunctionName"])
        return None
    return resource if resource.startswith("arn:aws:lambda:") else None


def attempt_seconds(
    name: str, state: Mapping[str, Any], function_timeouts: Mapping[str, float]
) -> float:
    """How long one attempt of a Task can last: its TimeoutSeconds or its Lambda's timeout."""
    bounds = []
    if isinstance(state.get("TimeoutSeconds"), int | float):  # not TimeoutSecondsPath
        bounds.append(float(state["TimeoutSeconds"]))
    function = _lambda_function(state)
    if function is not None and function in function_timeouts:
        bounds.append(float(function_timeouts[function]))
    if not bounds:
        raise ValueError(
            f"state {name!r} has no TimeoutSeconds and no known Lambda timeout: its duration "
            "in an Express workflow cannot be bounded"
        )
    return min(bounds)


def state_worst_case_seconds(
    name: str, state: Mapping[str, Any], function_timeouts: Mapping[str, float]
) -> float:
    """The longest one state can take, its retries included (not what follows it)."""
    kind = state["Type"]
    retriers = state.get("Retry", [])
    if kind == "Task":
        return retry_worst_case_seconds(attempt_seconds(name, state, function_timeouts), retriers)
    if kind == "Parallel":
        branch = max(path_worst_case_seconds(b, function_timeouts) for b in state["Branches"])
        return retry_worst_case_seconds(branch, retriers)
    if kind == "Wait":
        if "Seconds" not in state:
            raise ValueError(f"Wait state {name!r} waits for a computed time: it cannot be bounded")
        return float(state["Seconds"])
    if kind == "Map":
        raise ValueError(
            f"Map state {name!r} runs an unknown number of iterations: an Express workflow "
            "with it cannot be bounded (use a Distributed Map with Express children)"
        )
    return 0.0  # Pass, Choice, Succeed, Fail


def _successors(state: Mapping[str, Any]) -> list[str]:
    names = [state["Next"]] if "Next" in state else []
    names += [rule["Next"] for rule in state.get("Choices", [])]
    names += [state["Default"]] if "Default" in state else []
    names += [catcher["Next"] for catcher in state.get("Catch", [])]
    return names


def path_worst_case_seconds(
    scope: Mapping[str, Any], function_timeouts: Mapping[str, float]
) -> float:
    """The longest path from StartAt to an end state (a loop cannot be bounded)."""
    states: Mapping[str, Any] = scope["States"]
    longest: dict[str, float] = {}

    def visit(name: str, trail: tuple[str, ...]) -> float:
        if name in trail:
            raise ValueError(
                f"states {' -> '.join((*trail, name))} form a loop: an Express workflow with "
                "it cannot be bounded"
            )
        if name not in longest:
            own = state_worst_case_seconds(name, states[name], function_timeouts)
            after = [visit(n, (*trail, name)) for n in _successors(states[name])]
            longest[name] = own + max(after, default=0.0)
        return longest[name]

    return visit(scope["StartAt"], ())


@dataclass(frozen=True)
class ExpressScope:
    """A part of a definition that runs as one Express execution."""

    where: str
    """`workflow` or `<Map state> children`."""
    worst_case_seconds: float
    limit_seconds: float


def express_scopes(
    definition: Mapping[str, Any],
    workflow_type: str,
    function_timeouts: Mapping[str, float],
) -> list[ExpressScope]:
    """Every Express execution the definition runs: itself, and Express Map children."""
    limit = float(STEP_FUNCTIONS_EXPRESS_MAX_SECONDS.value)
    found: list[ExpressScope] = []

    def walk(scope: Mapping[str, Any], where: str, express: bool) -> None:
        if express:
            own = min(limit, float(scope.get("TimeoutSeconds", limit)))
            found.append(
                ExpressScope(where, path_worst_case_seconds(scope, function_timeouts), own)
            )
        for name, state in scope["States"].items():
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor is not None:
                config = processor.get("ProcessorConfig", {})
                child_express = express or (
                    config.get("Mode") == "DISTRIBUTED" and config.get("ExecutionType") == EXPRESS
                )
                # An inline Map runs inside its parent: it is part of the parent's budget.
                if config.get("Mode") == "DISTRIBUTED":
                    walk(processor, f"{name} children", child_express)
            for branch in state.get("Branches", []):
                walk(branch, f"{name} branch", False)

    walk(definition, "workflow", workflow_type == EXPRESS)
    return found


def check_express_budget(
    what: str,
    definition: Mapping[str, Any],
    workflow_type: str,
    function_timeouts: Mapping[str, float],
) -> list[ExpressScope]:
    """Raise ValueError naming the part of `what` whose worst case exceeds its Express limit."""
    scopes = express_scopes(definition, workflow_type, function_timeouts)
    for scope in scopes:
        if scope.worst_case_seconds > scope.limit_seconds:
            raise ValueError(
                f"{what}: the {scope.where} run as Express executions, which end after "
                f"{scope.limit_seconds:g} s including every retry and backoff, but their worst "
                f"case is {scope.worst_case_seconds:g} s (timeout x attempts + backoff on the "
                "longest path): lower the function timeout or the retry attempts"
            )
    return scopes


def placeholder_arn(role: str) -> str:
    """A stand-in function ARN, to check a definition before its functions exist."""
    return f"arn:aws:lambda:region:000000000000:function:{role}"


PLACEHOLDER_QUEUE_URL = "https://sqs.region.amazonaws.com/000000000000/placeholder"


def check_task_settings(
    setting: str, timeout_seconds: int, retry_setting: str, attempts: int
) -> None:
    """A function timeout Lambda accepts, and a finite, non-negative retry count."""
    if timeout_seconds not in LAMBDA_TIMEOUT_SECONDS.value:
        raise ValueError(
            f"{setting} must be {LAMBDA_TIMEOUT_SECONDS.value} seconds (Lambda's range), "
            f"not {timeout_seconds!r}"
        )
    if not isinstance(attempts, int) or not 0 <= attempts <= 10:
        raise ValueError(f"{retry_setting} must be 0..10, not {attempts!r}")
