"""Retry back-off in virtual time, Catch routing, error-name matching, the 256 KiB limit."""

from __future__ import annotations

import random
from typing import Any

import pytest
from states_support import (
    FN,
    LAMBDA_INVOKE,
    FakeDispatcher,
    always,
    flaky,
    run,
    single,
    task,
    types,
)

from emulator.states import TaskError
from emulator.states.errors import error_matches
from emulator.states.limits import MAX_PAYLOAD_BYTES, json_size
from emulator.states.retry import backoff_seconds

WORK = f"{FN}work"


def work_task(**fields: Any) -> dict[str, Any]:
    return task(
        LAMBDA_INVOKE,
        Parameters={"FunctionName": WORK, "Payload": {"retry.$": "$$.State.RetryCount"}},
        **fields,
    )


def with_catch(state: dict[str, Any], catchers: list[dict[str, Any]]) -> dict[str, Any]:
    body = dict(state, Catch=catchers)
    body.pop("End")
    body["Next"] = "Done"
    states = {"Work": body, "Done": {"Type": "Succeed"}}
    for catcher in catchers:
        if catcher["Next"] not in states:
            states[catcher["Next"]] = {
                "Type": "Pass",
                "Result": catcher["Next"],
                "ResultPath": "$.route",
                "End": True,
            }
    return {"StartAt": "Work", "States": states}


def test_retries_with_exponential_backoff_in_virtual_time() -> None:
    dispatcher = FakeDispatcher().on(WORK, flaky(3, "Lambda.ServiceException", {"done": True}))
    retry = [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1, "BackoffRate": 2.0}]
    result = run(single(work_task(Retry=retry)), {}, dispatcher)
    assert result.status == "SUCCEEDED"
    assert result.virtual_seconds == 1 + 2 + 4
    assert result.state_transitions == 1 + 1 + 3
    assert [call.parameters["Payload"]["retry"] for call in dispatcher.calls] == [0, 1, 2, 3]
    assert types(result).count("TaskFailed") == 3


def test_retries_exhausted_fail_with_the_last_error() -> None:
    dispatcher = FakeDispatcher().on(WORK, always("Lambda.ServiceException", "down"))
    retry = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 5}]
    result = run(single(work_task(Retry=retry)), {}, dispatcher)
    assert (result.status, result.error, result.cause) == (
        "FAILED",
        "Lambda.ServiceException",
        "down",
    )
    assert len(dispatcher.calls) == 3
    assert result.virtual_seconds == 5 + 10


def test_max_attempts_zero_never_retries() -> None:
    dispatcher = FakeDispatcher().on(WORK, flaky(1, "Oops"))
    retry = [{"ErrorEquals": ["Oops"], "MaxAttempts": 0}]
    result = run(single(work_task(Retry=retry)), {}, dispatcher)
    assert result.status == "FAILED"
    assert len(dispatcher.calls) == 1


def test_max_delay_caps_the_backoff() -> None:
    dispatcher = FakeDispatcher().on(WORK, flaky(3, "Oops"))
    retry = [
        {"ErrorEquals": ["Oops"], "IntervalSeconds": 10, "BackoffRate": 3.0, "MaxDelaySeconds": 15}
    ]
    result = run(single(work_task(Retry=retry)), {}, dispatcher)
    assert result.virtual_seconds == 10 + 15 + 15


def test_full_jitter_draws_from_the_rng() -> None:
    dispatcher = FakeDispatcher().on(WORK, flaky(3, "Oops"))
    retry = [{"ErrorEquals": ["Oops"], "JitterStrategy": "FULL"}]
    result = run(single(work_task(Retry=retry)), {}, dispatcher, seed=11)
    rng = random.Random(11)
    expected = sum(rng.uniform(0, delay) for delay in (1, 2, 4))
    assert result.virtual_seconds == pytest.approx(expected)
    assert result.virtual_seconds < 7


def test_backoff_formula() -> None:
    retrier = {"IntervalSeconds": 2, "BackoffRate": 1.5, "MaxDelaySeconds": 4}
    rng = random.Random(0)
    assert [backoff_seconds(retrier, n, rng) for n in range(4)] == [2.0, 3.0, 4.0, 4.0]
    assert backoff_seconds({"BackoffRate": 10.0}, 10_000, rng) == float("inf")


def test_only_the_first_matching_retrier_applies() -> None:
    dispatcher = FakeDispatcher().on(WORK, always("Specific"))
    retry = [
        {"ErrorEquals": ["Specific"], "MaxAttempts": 1},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5},
    ]
    result = run(single(work_task(Retry=retry)), {}, dispatcher)
    assert result.error == "Specific"
    assert len(dispatcher.calls) == 2


def test_each_retrier_counts_its_own_attempts() -> None:
    errors = iter(["A", "B", "A", "B"])

    def handler(_payload: Any) -> Any:
        error = next(errors, None)
        if error:
            raise TaskError(error)
        return "ok"

    dispatcher = FakeDispatcher().on(WORK, handler)
    retry = [{"ErrorEquals": ["A"], "MaxAttempts": 2}, {"ErrorEquals": ["B"], "MaxAttempts": 2}]
    result = run(single(work_task(Retry=retry)), {}, dispatcher)
    assert result.status == "SUCCEEDED"
    assert len(dispatcher.calls) == 5


def test_catch_default_result_path_replaces_the_input() -> None:
    dispatcher = FakeDispatcher().on(WORK, always("Boom", "cause text"))
    definition = with_catch(work_task(), [{"ErrorEquals": ["Boom"], "Next": "Handled"}])
    result = run(definition, {"keep": 1}, dispatcher)
    assert result.output == {"Error": "Boom", "Cause": "cause text", "route": "Handled"}


def test_catch_result_path_merges_and_first_matching_catcher_wins() -> None:
    dispatcher = FakeDispatcher().on(WORK, always("Boom"))
    catchers = [
        {"ErrorEquals": ["Other"], "Next": "Wrong"},
        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Right"},
        {"ErrorEquals": ["States.ALL"], "Next": "Wrong"},
    ]
    result = run(with_catch(work_task(), catchers), {"keep": 1}, dispatcher)
    assert result.output == {
        "keep": 1,
        "error": {"Error": "Boom", "Cause": "boom"},
        "route": "Right",
    }


def test_retry_then_catch() -> None:
    dispatcher = FakeDispatcher().on(WORK, always("Boom"))
    state = work_task(Retry=[{"ErrorEquals": ["Boom"], "MaxAttempts": 2}])
    result = run(with_catch(state, [{"ErrorEquals": ["Boom"], "Next": "Handled"}]), {}, dispatcher)
    assert result.status == "SUCCEEDED"
    assert len(dispatcher.calls) == 3
    assert result.state_transitions == 1 + 1 + 2 + 1


def test_task_failed_does_not_match_timeout_but_all_does() -> None:
    dispatcher = FakeDispatcher().on(WORK, always("States.Timeout"))
    only_task_failed = with_catch(
        work_task(), [{"ErrorEquals": ["States.TaskFailed"], "Next": "Handled"}]
    )
    assert run(only_task_failed, {}, dispatcher).error == "States.Timeout"
    catch_all = with_catch(work_task(), [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}])
    assert run(catch_all, {}, dispatcher).output["route"] == "Handled"


@pytest.mark.parametrize(
    ("names", "error", "expected"),
    [
        (["States.ALL"], "Anything", True),
        (["States.TaskFailed"], "Lambda.Unknown", True),
        (["States.TaskFailed"], "States.Timeout", False),
        (["States.Timeout"], "States.Timeout", True),
        (["States.ALL"], "States.Runtime", False),
        (["States.Runtime"], "States.Runtime", False),
        (["States.ALL"], "States.DataLimitExceeded", False),
        (["States.TaskFailed"], "States.DataLimitExceeded", False),
        (["States.DataLimitExceeded"], "States.DataLimitExceeded", True),
        (["A", "B"], "B", True),
        (["A"], "a", False),
    ],
)
def test_error_matching(names: list[str], error: str, expected: bool) -> None:
    assert error_matches(names, error) is expected


def test_handler_exception_cause_passes_through() -> None:
    cause = '{"errorMessage": "bad", "errorType": "ValueError", "stackTrace": []}'
    dispatcher = FakeDispatcher().on(WORK, always("ValueError", cause))
    result = run(
        with_catch(
            work_task(), [{"ErrorEquals": ["ValueError"], "ResultPath": "$.e", "Next": "H"}]
        ),
        {},
        dispatcher,
    )
    assert result.output["e"] == {"Error": "ValueError", "Cause": cause}


def test_runtime_errors_are_never_caught() -> None:
    state = task(OutputPath="$.missing")
    result = run(with_catch(state, [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}]), {})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


# -- 256 KiB -----------------------------------------------------------------------------


def _text_of_size(size: int) -> str:
    return "x" * (size - 2)  # JSON adds the two quotes


def test_payload_size_is_measured_as_compact_utf8_json() -> None:
    assert json_size({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert json_size("é") == 4
    assert json_size(_text_of_size(MAX_PAYLOAD_BYTES)) == MAX_PAYLOAD_BYTES


def test_execution_input_limit_is_exactly_256_kib() -> None:
    ok = run(single({"Type": "Pass", "End": True}), _text_of_size(MAX_PAYLOAD_BYTES))
    assert ok.status == "SUCCEEDED"
    too_big = run(single({"Type": "Pass", "End": True}), _text_of_size(MAX_PAYLOAD_BYTES + 1))
    assert (too_big.status, too_big.error) == ("FAILED", "States.DataLimitExceeded")


def test_oversized_task_result_is_data_limit_exceeded_and_only_caught_by_name() -> None:
    big = _text_of_size(MAX_PAYLOAD_BYTES + 1)
    dispatcher = FakeDispatcher().on(WORK, lambda _payload: big)
    by_all = with_catch(work_task(ResultPath=None), [{"ErrorEquals": ["States.ALL"], "Next": "H"}])
    result = run(by_all, {}, dispatcher)
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    by_name = with_catch(
        work_task(ResultPath=None),
        [{"ErrorEquals": ["States.DataLimitExceeded"], "ResultPath": "$.e", "Next": "H"}],
    )
    result = run(by_name, {}, dispatcher)
    assert result.status == "SUCCEEDED"
    assert result.output["e"]["Error"] == "States.DataLimitExceeded"


def test_oversized_state_output_fails() -> None:
    chunk = "y" * 200_000
    dispatcher = FakeDispatcher().on(WORK, lambda _payload: chunk)
    state = task(
        LAMBDA_INVOKE,
        Parameters={"FunctionName": WORK},
        ResultSelector={"v.$": "$.Payload"},
        ResultPath="$.second",
    )
    result = run(single(state), {"first": chunk}, dispatcher)
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert "output of state" in (result.cause or "")
