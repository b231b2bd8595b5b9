"""The Amazon States Language interpreter: runs one execution of a definition to the end.

Why our own: moto's interpreter cannot parse `ItemBatcher`, has no JSONL reader or
`ItemsPointer`, and no Express semantics, all of which the validation pipeline uses.
Every service call goes through the caller's `TaskDispatcher`, so the emulator can
enforce IAM and count billable operations in one place.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from emulator import interleave
from emulator.states.choice import evaluate_rule
from emulator.states.errors import (
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    ITEM_READER_FAILED,
    NO_CHOICE_MATCHED,
    QUERY_EVALUATION_ERROR,
    RESULT_WRITER_FAILED,
    RUNTIME,
    TIMEOUT,
    ExecutionTimedOut,
    TaskError,
)
from emulator.states.history import HistoryLimitReached, HistoryRecorder, entered, exited
from emulator.states.jsonata_support import JsonataEvaluator
from emulator.states.limits import check_payload
from emulator.states.map_state import (
    DISTRIBUTED_DEFAULT_CONCURRENCY,
    FailureTolerance,
    VirtualScheduler,
    make_batches,
)
from emulator.states.model import ExecutionResult, TaskContext, TaskDispatcher
from emulator.states.paths import set_at
from emulator.states.payload import Scope, evaluate_template, resolve, select
from emulator.states.readers import items_from_object
from emulator.states.results import ChildRun, compact, plan_export, transform
from emulator.states.retry import RetryBudget, find_catcher
from emulator.states.timestamps import format_timestamp, parse_timestamp
from emulator.states.validation import EXPRESS, JSONATA, S3_LIST_OBJECTS, validate_definition
from orderflow.aws_facts import (
    STEP_FUNCTIONS_EXPRESS_MAX_SECONDS,
    STEP_FUNCTIONS_STANDARD_MAX_HISTORY_EVENTS,
    STEP_FUNCTIONS_STANDARD_MAX_SECONDS,
)

SUCCEEDED: Final = "SUCCEEDED"
FAILED: Final = "FAILED"
TIMED_OUT: Final = "TIMED_OUT"
EXPRESS_MAX_SECONDS: Final = float(STEP_FUNCTIONS_EXPRESS_MAX_SECONDS.value)
STANDARD_MAX_SECONDS: Final = float(STEP_FUNCTIONS_STANDARD_MAX_SECONDS.value)
STANDARD_MAX_HISTORY_EVENTS: Final = STEP_FUNCTIONS_STANDARD_MAX_HISTORY_EVENTS.value


def _no_spend(seconds: float) -> None:
    """Item readers and result writers: their S3 calls take no virtual time here."""


class StateMachineInterpreter:
    """Runs executions of one state machine definition (validated on construction).

    Billing: `ExecutionResult.state_transitions` counts as Standard workflows are billed:
    1 for the execution start, plus 1 for every state entered (states inside Parallel
    branches and inline Map iterations included), plus 1 for every retry attempt. A
    Distributed Map's children are separate executions with their own counts in
    `children` (an Express child is billed by requests and duration instead, so its
    count is informational). Express workflows run with the same semantics; only
    `workflow_type` (recorded in TaskContext and the ExecutionStarted event), the
    5-minute limit and the ban on `.sync`/`.waitForTaskToken` differ. Note that AWS runs
    Express executions at-least-once: a real Express child may run twice, so its tasks
    must be idempotent; this interpreter runs each exactly once.

    Time is virtual: Wait states, retry back-off and the duration a dispatcher reports for
    each task attempt (`TaskContext.spend`: a Lambda's run, its full timeout when it timed
    out) add to `virtual_seconds` and never sleep. Parallel branches, inline Map iterations
    and Distributed Map children run one after another in a fixed order, and the clock
    advances as if they had run side by side within MaxConcurrency. An attempt reported
    longer than the state's TimeoutSeconds fails with States.Timeout after that long. The
    execution times out (status TIMED_OUT, error States.Timeout, which no Retry or Catch
    sees) when virtual time passes the top-level TimeoutSeconds, 5 minutes for Express
    (every attempt and backoff included) or 1 year for Standard; HeartbeatSeconds is not
    simulated.

    Distributed Map results are the array of child outputs (subject, like any result, to
    256 KiB even with `ResultPath: null`, as on AWS) unless a ResultWriter exports them
    through the dispatcher (see `emulator.states.results`).

    Not supported: ItemReader InputType MANIFEST, decoding PARQUET (a dispatcher may
    return the rows already decoded, as a list), redrive, and activities or callbacks (a
    `.waitForTaskToken` task gets `$$.Task.Token` and is otherwise an ordinary
    dispatcher call).
    """

    def __init__(
        self,
        definition: dict[str, Any] | str,
        *,
        dispatcher: TaskDispatcher,
        role_arn: str,
        state_machine_arn: str,
        workflow_type: str = "STANDARD",
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(definition, str):
            try:
                definition = json.loads(definition)
            except ValueError as exc:
                raise ValueError(f"the definition is not valid JSON: {exc}") from None
        self.analysis = validate_definition(definition, workflow_type)
        self.definition: dict[str, Any] = definition  # type: ignore[assignment]
        self.dispatcher = dispatcher
        self.role_arn = role_arn
        self.state_machine_arn = state_machine_arn
        self.workflow_type = workflow_type
        # Not for security: a seedable source for jitter, MathRandom and UUID.
        self.rng = rng if rng is not None else random.Random()  # noqa: S311
        self.jsonata = JsonataEvaluator() if self.analysis.uses_jsonata else None
        limit = EXPRESS_MAX_SECONDS if workflow_type == EXPRESS else STANDARD_MAX_SECONDS
        self.time_limit = min(float(self.definition.get("TimeoutSeconds", limit)), limit)
        self._children: dict[str, StateMachineInterpreter] = {}

    @property
    def name(self) -> str:
        """The state machine's name, from its ARN."""
        return self.state_machine_arn.rsplit(":stateMachine:", 1)[-1].rsplit(":", 1)[-1]

    def execute(self, input: Any, name: str) -> ExecutionResult:
        """Run one execution to completion; never raises for a failing workflow."""
        return self.run_execution(input, name, started=datetime.now(UTC))

    def run_execution(self, input: Any, name: str, *, started: datetime) -> ExecutionResult:
        """`execute` with an explicit start time (Distributed Map children use this)."""
        return _Execution(self, copy.deepcopy(input), name, started).run()

    def child_machine(
        self, state_name: str, processor: Mapping[str, Any], execution_type: str, language: str
    ) -> StateMachineInterpreter:
        """The machine a Distributed Map state runs for each child (built once)."""
        machine = self._children.get(state_name)
        if machine is None:
            definition = {
                "StartAt": processor["StartAt"],
                "States": processor["States"],
                "QueryLanguage": language,
            }
            machine = StateMachineInterpreter(
                definition,
                dispatcher=self.dispatcher,
                role_arn=self.role_arn,
                state_machine_arn=f"{self.state_machine_arn}/{state_name}",
                workflow_type=execution_type,
                rng=self.rng,
            )
            self._children[state_name] = machine
        return machine


def execution_arn(state_machine_arn: str, name: str, workflow_type: str) -> str:
    """`arn:aws:states:…:execution:<machine>:<name>` (`:express:` for Express)."""
    kind = "express" if workflow_type == EXPRESS else "execution"
    if ":stateMachine:" in state_machine_arn:
        return state_machine_arn.replace(":stateMachine:", f":{kind}:", 1) + f":{name}"
    return f"{state_machine_arn}:{kind}:{name}"


@dataclass
class _Lane:
    """Virtual seconds since the execution started, for one line of work."""

    now: float = 0.0


@dataclass
class _Step:
    """One entry into a state: its input, clock, variables and context object."""

    name: str
    state: Mapping[str, Any]
    raw: Any
    lane: _Lane
    variables: dict[str, Any]
    jsonata: bool
    context: dict[str, Any]

    @property
    def next(self) -> str | None:
        return self.state.get("Next")


class _Outcome(NamedTuple):
    output: Any
    next: str | None


class _Execution:
    """The mutable record of one running execution."""

    def __init__(
        self, machine: StateMachineInterpreter, input: Any, name: str, started: datetime
    ) -> None:
        self.m = machine
        self.input = input
        self.name = name
        self.started = started
        self.arn = execution_arn(machine.state_machine_arn, name, machine.workflow_type)
        self.history = HistoryRecorder(
            limit=None if machine.workflow_type == EXPRESS else STANDARD_MAX_HISTORY_EVENTS
        )
        self.transitions = 0
        self.children: list[ExecutionResult] = []
        self.lane = _Lane()
        self.handlers: dict[str, Callable[[_Step], _Outcome]] = {
            "Task": self._task,
            "Pass": self._pass,
            "Choice": self._choice,
            "Wait": self._wait,
            "Succeed": self._succeed,
            "Fail": self._fail,
            "Parallel": self._parallel,
            "Map": self._map,
        }

    # -- execution and scopes -------------------------------------------------------------

    def run(self) -> ExecutionResult:
        self.transitions = 1
        self.history.add(
            "ExecutionStarted",
            input=self.input,
            roleArn=self.m.role_arn,
            stateMachineArn=self.m.state_machine_arn,
            workflowType=self.m.workflow_type,
        )
        try:
            check_payload(self.input, "execution input")
            output = self.run_scope(self.m.definition, self.input, self.lane, {})
            check_payload(output, "execution output")
        except TaskError as exc:
            self.history.add("ExecutionFailed", error=exc.error, cause=exc.cause, final=True)
            return self._result(FAILED, None, exc.error or None, exc.cause or None)
        except HistoryLimitReached as full:
            self.history.add("ExecutionFailed", error=RUNTIME, cause=str(full), final=True)
            return self._result(FAILED, None, RUNTIME, str(full))
        except ExecutionTimedOut as exc:
            self.lane.now = exc.limit_seconds
            self.history.add("ExecutionTimedOut", error=TIMEOUT, cause=str(exc), final=True)
            return self._result(TIMED_OUT, None, TIMEOUT, str(exc))
        self.history.add("ExecutionSucceeded", output=output, final=True)
        return self._result(SUCCEEDED, output, None, None)

    def _result(
        self, status: str, output: Any, error: str | None, cause: str | None
    ) -> ExecutionResult:
        return ExecutionResult(
            name=self.name,
            execution_arn=self.arn,
            status=status,
            input=self.input,
            output=output,
            error=error,
            cause=cause,
            history=self.history.events,
            state_transitions=self.transitions,
            children=self.children,
            virtual_seconds=self.lane.now,
        )

    def run_scope(
        self, scope: Mapping[str, Any], data: Any, lane: _Lane, variables: dict[str, Any]
    ) -> Any:
        """Run a machine, Parallel branch or Map iteration from StartAt to its end."""
        name: str = scope["StartAt"]
        while True:
            outcome = self.run_state(name, scope["States"][name], data, lane, variables)
            if outcome.next is None:
                return outcome.output
            data, name = outcome.output, outcome.next

    def run_state(
        self,
        name: str,
        state: Mapping[str, Any],
        data: Any,
        lane: _Lane,
        variables: dict[str, Any],
    ) -> _Outcome:
        self.transitions += 1
        self._check_deadline(lane)
        kind = state["Type"]
        step = _Step(
            name=name,
            state=state,
            raw=data,
            lane=lane,
            variables=variables,
            jsonata=self.m.analysis.languages[name] == JSONATA,
            context=self._context(name, lane),
        )
        self.history.add(entered(kind), name, input=data)
        handler = self.handlers[kind]
        if "Retry" in state or "Catch" in state:
            outcome = self._with_retries(step, handler)
        else:
            outcome = handler(step)
        self.history.add(exited(kind), name, output=outcome.output)
        return outcome

    def _context(self, name: str, lane: _Lane) -> dict[str, Any]:
        return {
            "Execution": {
                "Id": self.arn,
                "Input": self.input,
                "Name": self.name,
                "RoleArn": self.m.role_arn,
                "StartTime": format_timestamp(self.started),
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": format_timestamp(self._now(lane)),
                "Name": name,
                "RetryCount": 0,
            },
            "StateMachine": {"Id": self.m.state_machine_arn, "Name": self.m.name},
        }

    def _now(self, lane: _Lane) -> datetime:
        return self.started + timedelta(seconds=lane.now)

    def _check_deadline(self, lane: _Lane) -> None:
        if lane.now > self.m.time_limit:
            raise ExecutionTimedOut(self.m.time_limit)

    def _advance(self, lane: _Lane, seconds: float) -> None:
        lane.now += seconds
        self._check_deadline(lane)

    def _advance_to(self, lane: _Lane, moment: float) -> None:
        lane.now = max(lane.now, moment)
        self._check_deadline(lane)

    # -- errors ---------------------------------------------------------------------------

    def _with_retries(self, step: _Step, handler: Callable[[_Step], _Outcome]) -> _Outcome:
        budget = RetryBudget(step.state.get("Retry", []))
        while True:
            try:
                return handler(step)
            except TaskError as exc:
                delay = budget.next_delay(exc.error, self.m.rng)
                if delay is None:
                    return self._catch(step, exc)
                self.transitions += 1
                step.context["State"]["RetryCount"] += 1
                self._advance(step.lane, delay)

    def _catch(self, step: _Step, exc: TaskError) -> _Outcome:
        catcher = find_catcher(step.state.get("Catch", []), exc.error)
        if catcher is None:
            raise exc
        error_output = exc.as_output()
        if step.jsonata:
            states = self._states(step, errorOutput=error_output)
            assigned = self._jsonata_assign(catcher, states, step.variables)
            output = (
                self._evaluator().template(catcher["Output"], states, step.variables)
                if "Output" in catcher
                else error_output
            )
        else:
            assigned = self._jsonpath_assign(catcher, error_output, step)
            result_path = catcher.get("ResultPath", "$")
            output = (
                step.raw if result_path is None else set_at(step.raw, result_path, error_output)
            )
        step.variables.update(assigned)
        check_payload(output, f"output of state {step.name!r}")
        return _Outcome(output, catcher["Next"])

    # -- input and output processing ------------------------------------------------------

    def _scope(self, step: _Step, context: Mapping[str, Any] | None = None) -> Scope:
        return Scope(step.context if context is None else context, step.variables, self.m.rng)

    def _evaluator(self) -> JsonataEvaluator:
        if self.m.jsonata is None:  # validation guarantees it for JSONata states
            raise RuntimeError("JSONata state without an evaluator")
        return self.m.jsonata

    def _states(self, step: _Step, **extra: Any) -> dict[str, Any]:
        return {"input": step.raw, "context": step.context, **extra}

    def _jsonata_value(self, step: _Step, value: Any, **extra: Any) -> Any:
        if not step.jsonata:
            return value
        return self._evaluator().template(value, self._states(step, **extra), step.variables)

    def _jsonata_assign(
        self, container: Mapping[str, Any], states: Mapping[str, Any], variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        if "Assign" not in container:
            return {}
        assigned = self._evaluator().template(container["Assign"], states, variables)
        return dict(assigned)

    def _jsonpath_assign(
        self, container: Mapping[str, Any], data: Any, step: _Step
    ) -> dict[str, Any]:
        if "Assign" not in container:
            return {}
        return dict(evaluate_template(container["Assign"], data, self._scope(step)))

    def _effective_input(self, step: _Step) -> Any:
        """InputPath (JSONPath only; `null` selects `{}`)."""
        if step.jsonata or "InputPath" not in step.state:
            return step.raw
        return select(step.state["InputPath"], step.raw, self._scope(step), field="InputPath")

    def _arguments(self, step: _Step, effective: Any) -> Any:
        """Parameters (JSONPath) or Arguments (JSONata); without either, the input."""
        if step.jsonata:
            if "Arguments" not in step.state:
                return step.raw
            return self._jsonata_value(step, step.state["Arguments"])
        if "Parameters" not in step.state:
            return effective
        return evaluate_template(step.state["Parameters"], effective, self._scope(step))

    def _finish(
        self,
        step: _Step,
        effective: Any,
        result: Any,
        *,
        has_result: bool = True,
        rule: Mapping[str, Any] | None = None,
    ) -> Any:
        """ResultSelector, Assign, ResultPath, OutputPath (or JSONata Assign and Output)."""
        state = step.state
        if step.jsonata:
            states = self._states(step, **({"result": result} if has_result else {}))
            assigned = self._jsonata_assign(state, states, step.variables)
            if rule is not None:
                assigned |= self._jsonata_assign(rule, states, step.variables)
            template_owner = rule if rule is not None and "Output" in rule else state
            if "Output" in template_owner:
                output = self._evaluator().template(
                    template_owner["Output"], states, step.variables
                )
            else:
                output = result if has_result else step.raw
        else:
            if has_result and "ResultSelector" in state:
                result = evaluate_template(state["ResultSelector"], result, self._scope(step))
            assign_data = result if has_result else effective
            assigned = self._jsonpath_assign(state, assign_data, step)
            if rule is not None:
                assigned |= self._jsonpath_assign(rule, assign_data, step)
            output = effective
            if has_result:
                result_path = state.get("ResultPath", "$")
                output = step.raw if result_path is None else set_at(step.raw, result_path, result)
            if "OutputPath" in state:
                output = select(state["OutputPath"], output, self._scope(step), field="OutputPath")
        step.variables.update(assigned)
        check_payload(output, f"output of state {step.name!r}")
        return output

    # -- simple states --------------------------------------------------------------------

    def _task_context(
        self, state_name: str, role_arn: str, spend: Callable[[float], None] = _no_spend
    ) -> TaskContext:
        return TaskContext(
            execution_arn=self.arn,
            execution_name=self.name,
            state_machine_arn=self.m.state_machine_arn,
            state_name=state_name,
            role_arn=role_arn,
            workflow_type=self.m.workflow_type,
            spend=spend,
        )

    def _spend(self, step: _Step, seconds: float) -> None:
        """Advance the clock by a task attempt's duration, bounded by its TimeoutSeconds.

        An attempt longer than the state's TimeoutSeconds fails with States.Timeout after
        exactly that long; past the execution's limit the whole execution times out.
        """
        limit = step.state.get("TimeoutSeconds")
        if isinstance(limit, int | float) and not isinstance(limit, bool) and seconds > limit:
            self._advance(step.lane, float(limit))
            self.history.add("TaskTimedOut", step.name, error=TIMEOUT)
            raise TaskError(
                TIMEOUT, f"The task in state {step.name!r} ran past its TimeoutSeconds ({limit})"
            )
        self._advance(step.lane, seconds)

    def _task(self, step: _Step) -> _Outcome:
        resource: str = step.state["Resource"]
        if resource.endswith(".waitForTaskToken"):
            step.context["Task"] = {"Token": uuid.UUID(int=self.m.rng.getrandbits(128)).hex}
        effective = self._effective_input(step)
        parameters = copy.deepcopy(self._arguments(step, effective))
        check_payload(parameters, f"input of state {step.name!r} after Parameters")
        role = self.m.role_arn
        if "Credentials" in step.state:
            credentials = (
                self._jsonata_value(step, step.state["Credentials"])
                if step.jsonata
                else evaluate_template(step.state["Credentials"], effective, self._scope(step))
            )
            role = credentials.get("RoleArn", role) if isinstance(credentials, dict) else role
        self.history.add(
            "TaskScheduled", step.name, resource=resource, parameters=parameters, roleArn=role
        )
        self.history.add("TaskStarted", step.name, resource=resource)
        spent: list[float] = []
        context = self._task_context(step.name, role, spent.append)
        try:
            result = self.m.dispatcher.invoke(resource, parameters, role_arn=role, context=context)
        except TaskError as exc:
            self._spend(step, sum(spent))
            self.history.add(
                "TaskFailed", step.name, resource=resource, error=exc.error, cause=exc.cause
            )
            raise
        self._spend(step, sum(spent))
        try:
            check_payload(result, f"result of the task in state {step.name!r}")
        except TaskError as exc:
            self.history.add(
                "TaskFailed", step.name, resource=resource, error=exc.error, cause=exc.cause
            )
            raise
        self.history.add("TaskSucceeded", step.name, resource=resource, output=result)
        return _Outcome(self._finish(step, effective, result), step.next)

    def _pass(self, step: _Step) -> _Outcome:
        effective = self._effective_input(step)
        if step.jsonata:
            return _Outcome(self._finish(step, effective, None, has_result=False), step.next)
        result = self._arguments(step, effective)
        if "Result" in step.state:
            result = copy.deepcopy(step.state["Result"])
        return _Outcome(self._finish(step, effective, result), step.next)

    def _succeed(self, step: _Step) -> _Outcome:
        effective = self._effective_input(step)
        return _Outcome(self._finish(step, effective, None, has_result=False), None)

    def _fail(self, step: _Step) -> _Outcome:
        error = self._fail_field(step, "Error")
        cause = self._fail_field(step, "Cause")
        raise TaskError(error, cause)

    def _fail_field(self, step: _Step, key: str) -> str:
        if f"{key}Path" in step.state:
            value = resolve(
                step.state[f"{key}Path"],
                step.raw,
                self._scope(step),
                error=RUNTIME,
                field=f"{key}Path",
            )
        else:
            value = self._jsonata_value(step, step.state.get(key, ""))
        if not isinstance(value, str):
            raise TaskError(RUNTIME, f"The Fail state's {key} must be a string, got {value!r}")
        return value

    def _choice(self, step: _Step) -> _Outcome:
        effective = self._effective_input(step)
        for rule in step.state["Choices"]:
            if self._rule_matches(step, rule, effective):
                output = self._finish(step, effective, None, has_result=False, rule=rule)
                return _Outcome(output, rule["Next"])
        if "Default" not in step.state:
            raise TaskError(
                NO_CHOICE_MATCHED,
                f"No Choice Rule matched in state {step.name!r} and it has no Default",
            )
        return _Outcome(
            self._finish(step, effective, None, has_result=False), step.state["Default"]
        )

    def _rule_matches(self, step: _Step, rule: Mapping[str, Any], effective: Any) -> bool:
        if not step.jsonata:
            return evaluate_rule(rule, effective, self._scope(step))
        verdict = self._jsonata_value(step, rule["Condition"])
        if not isinstance(verdict, bool):
            raise TaskError(
                QUERY_EVALUATION_ERROR, f"The Condition must be a boolean, got {verdict!r}"
            )
        return verdict

    def _wait(self, step: _Step) -> _Outcome:
        effective = self._effective_input(step)
        self._advance(step.lane, self._wait_seconds(step, effective))
        return _Outcome(self._finish(step, effective, None, has_result=False), step.next)

    def _wait_seconds(self, step: _Step, effective: Any) -> float:
        state = step.state
        if "Seconds" in state or "SecondsPath" in state:
            if "SecondsPath" in state:
                seconds = resolve(
                    state["SecondsPath"],
                    effective,
                    self._scope(step),
                    error=RUNTIME,
                    field="SecondsPath",
                )
            else:
                seconds = self._jsonata_value(step, state["Seconds"])
            if not _non_negative_int(seconds):
                raise TaskError(
                    RUNTIME, f"Wait seconds must be a non-negative integer: {seconds!r}"
                )
            return float(seconds)
        if "TimestampPath" in state:
            text = resolve(
                state["TimestampPath"],
                effective,
                self._scope(step),
                error=RUNTIME,
                field="TimestampPath",
            )
        else:
            text = self._jsonata_value(step, state["Timestamp"])
        moment = parse_timestamp(text)
        if moment is None:
            raise TaskError(RUNTIME, f"Wait timestamp {text!r} is not an RFC 3339 timestamp")
        return max(0.0, (moment - self._now(step.lane)).total_seconds())

    # -- Parallel and Map -----------------------------------------------------------------

    def _parallel(self, step: _Step) -> _Outcome:
        effective = self._effective_input(step)
        branch_input = self._arguments(step, effective)
        check_payload(branch_input, f"input of state {step.name!r} after Parameters")
        self.history.add("ParallelStateStarted", step.name)
        results: list[Any] = []
        end = step.lane.now
        try:
            for branch in step.state["Branches"]:
                lane = _Lane(step.lane.now)
                try:
                    branch_data = copy.deepcopy(branch_input)
                    results.append(self.run_scope(branch, branch_data, lane, dict(step.variables)))
                finally:
                    end = max(end, lane.now)
        except TaskError as exc:
            self._advance_to(step.lane, end)
            self.history.add("ParallelStateFailed", step.name, error=exc.error, cause=exc.cause)
            raise
        self._advance_to(step.lane, end)
        self.history.add("ParallelStateSucceeded", step.name)
        check_payload(results, f"result of state {step.name!r}")
        return _Outcome(self._finish(step, effective, results), step.next)

    def _map(self, step: _Step) -> _Outcome:
        processor = step.state.get("ItemProcessor", step.state.get("Iterator"))
        config = processor.get("ProcessorConfig", {})
        effective = self._effective_input(step)
        if config.get("Mode", "INLINE") == "DISTRIBUTED":
            results = self._distributed_map(step, effective, processor, config["ExecutionType"])
        else:
            results = self._inline_map(step, effective, processor)
        check_payload(results, f"result of state {step.name!r}")
        return _Outcome(self._finish(step, effective, results), step.next)

    def _map_items(self, step: _Step, effective: Any) -> list[Any]:
        if step.jsonata:
            items = self._jsonata_value(step, step.state.get("Items", step.raw))
        elif "ItemsPath" in step.state:
            items = select(step.state["ItemsPath"], effective, self._scope(step), field="ItemsPath")
        else:
            items = effective
        if not isinstance(items, list):
            raise TaskError(
                RUNTIME,
                f"The Map state {step.name!r} needs a JSON array of items, got {_kind(items)}",
            )
        return items

    def _select_item(self, step: _Step, effective: Any, index: int, value: Any) -> Any:
        selector = step.state.get("ItemSelector", step.state.get("Parameters"))
        if selector is None:
            return value
        context = {**step.context, "Map": {"Item": {"Index": index, "Value": value}}}
        if step.jsonata:
            states = {"input": step.raw, "context": context}
            return self._evaluator().template(selector, states, step.variables)
        return evaluate_template(selector, effective, self._scope(step, context))

    def _number(
        self, step: _Step, effective: Any, container: Mapping[str, Any], key: str
    ) -> float | None:
        """A numeric setting given directly, through `<key>Path`, or as JSONata."""
        if f"{key}Path" in container:
            value = resolve(
                container[f"{key}Path"], effective, self._scope(step), error=RUNTIME, field=key
            )
        elif key in container:
            value = self._jsonata_value(step, container[key])
        else:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise TaskError(RUNTIME, f"{key} must be a non-negative number, got {value!r}")
        return value

    def _count(self, step: _Step, effective: Any, container: Mapping[str, Any], key: str) -> int:
        value = self._number(step, effective, container, key)
        if value is None:
            return 0
        if not float(value).is_integer():
            raise TaskError(RUNTIME, f"{key} must be an integer, got {value!r}")
        return int(value)

    def _inline_map(self, step: _Step, effective: Any, processor: Mapping[str, Any]) -> list[Any]:
        items = self._map_items(step, effective)
        concurrency = self._count(step, effective, step.state, "MaxConcurrency")
        self.history.add("MapStateStarted", step.name, length=len(items))
        scheduler = VirtualScheduler(step.lane.now, concurrency)
        results: list[Any] = []
        try:
            for index, value in enumerate(items):
                iteration_input = self._select_item(step, effective, index, value)
                check_payload(iteration_input, f"input of Map iteration {index}")
                lane = _Lane(scheduler.next_start())
                self.history.add("MapIterationStarted", step.name, index=index)
                try:
                    iteration_data = copy.deepcopy(iteration_input)
                    output = self.run_scope(processor, iteration_data, lane, dict(step.variables))
                except TaskError as exc:
                    self.history.add(
                        "MapIterationFailed",
                        step.name,
                        index=index,
                        error=exc.error,
                        cause=exc.cause,
                    )
                    raise
                finally:
                    scheduler.finish(lane.now)
                self.history.add("MapIterationSucceeded", step.name, index=index)
                results.append(output)
        except TaskError as exc:
            self._advance_to(step.lane, scheduler.end)
            self.history.add("MapStateFailed", step.name, error=exc.error, cause=exc.cause)
            raise
        self._advance_to(step.lane, scheduler.end)
        self.history.add("MapStateSucceeded", step.name)
        return results

    def _distributed_map(
        self, step: _Step, effective: Any, processor: Mapping[str, Any], execution_type: str
    ) -> Any:
        run_id = uuid.UUID(int=self.m.rng.getrandbits(128), version=4)
        map_run_arn = f"{_map_run_prefix(self.m.state_machine_arn)}/{step.name}:{run_id}"
        self.history.add("MapRunStarted", step.name, mapRunArn=map_run_arn)
        try:
            if "ItemReader" in step.state:
                items = self._read_items(step, effective)
            else:
                items = self._map_items(step, effective)
            selected = [self._select_item(step, effective, i, v) for i, v in enumerate(items)]
            inputs, weights = self._child_inputs(step, effective, selected)
            children = self._run_children(
                step,
                effective,
                processor,
                execution_type=execution_type,
                inputs=inputs,
                weights=weights,
            )
            result = self._map_run_result(step, effective, children, map_run_arn)
        except TaskError as exc:
            self.history.add("MapRunFailed", step.name, error=exc.error, cause=exc.cause)
            raise
        self.history.add(
            "MapRunSucceeded", step.name, items=len(items), childExecutions=len(inputs)
        )
        return result

    def _map_run_result(
        self, step: _Step, effective: Any, children: list[ChildRun], map_run_arn: str
    ) -> Any:
        """The child outputs, or what a ResultWriter makes of them."""
        writer: Mapping[str, Any] | None = step.state.get("ResultWriter")
        if writer is None:
            return [compact(child) for child in children]
        config = writer.get("WriterConfig", {})
        child_machine_arn = f"{self.m.state_machine_arn}/{step.name}"
        if "Resource" not in writer:
            return transform(children, config.get("Transformation", "COMPACT"), child_machine_arn)
        if step.jsonata:
            parameters = self._jsonata_value(step, writer.get("Arguments", {}))
        else:
            parameters = evaluate_template(
                writer.get("Parameters", {}), effective, self._scope(step)
            )
        export = plan_export(
            children,
            parameters=parameters,
            config=config,
            map_run_arn=map_run_arn,
            state_machine_arn=child_machine_arn,
        )
        bucket = export.result["ResultWriterDetails"]["Bucket"]
        for key, body in export.files:
            try:
                self.m.dispatcher.invoke(
                    writer["Resource"],
                    {"Bucket": bucket, "Key": key, "Body": body},
                    role_arn=self.m.role_arn,
                    context=self._task_context(step.name, self.m.role_arn),
                )
            except TaskError as exc:
                raise TaskError(
                    RESULT_WRITER_FAILED,
                    f"Writing s3://{bucket}/{key} failed with {exc.error}: {exc.cause}",
                ) from None
        return export.result

    def _read_items(self, step: _Step, effective: Any) -> list[Any]:
        reader: Mapping[str, Any] = step.state["ItemReader"]
        if step.jsonata:
            parameters = self._jsonata_value(step, reader.get("Arguments", {}))
        else:
            parameters = evaluate_template(
                reader.get("Parameters", {}), effective, self._scope(step)
            )
        config = reader.get("ReaderConfig", {})
        max_items = self._number(step, effective, config, "MaxItems")
        limit = None if max_items is None else int(max_items)
        source = (
            f"s3://{parameters.get('Bucket')}/{parameters.get('Key', parameters.get('Prefix', ''))}"
        )
        try:
            body = self.m.dispatcher.invoke(
                reader["Resource"],
                copy.deepcopy(parameters),
                role_arn=self.m.role_arn,
                context=self._task_context(step.name, self.m.role_arn),
            )
        except TaskError as exc:
            raise TaskError(
                ITEM_READER_FAILED, f"Reading {source} failed with {exc.error}: {exc.cause}"
            ) from None
        if reader["Resource"] == S3_LIST_OBJECTS:
            contents = body.get("Contents", []) if isinstance(body, dict) else body
            if not isinstance(contents, list):
                raise TaskError(ITEM_READER_FAILED, f"Listing {source} returned no object list")
            return contents if limit is None else contents[:limit]
        return items_from_object(body, config, source=source, max_items=limit)

    def _child_inputs(
        self, step: _Step, effective: Any, selected: list[Any]
    ) -> tuple[list[Any], list[int]]:
        """Each child's input and how many items it carries (for failure tolerance)."""
        batcher = step.state.get("ItemBatcher")
        if batcher is None:
            return selected, [1] * len(selected)
        max_items = self._number(step, effective, batcher, "MaxItemsPerBatch")
        max_bytes = self._number(step, effective, batcher, "MaxInputBytesPerBatch")
        batches = make_batches(
            selected,
            max_items=None if max_items is None else max(int(max_items), 1),
            max_bytes=None if max_bytes is None else int(max_bytes),
        )
        envelope: dict[str, Any] = {}
        if "BatchInput" in batcher:
            if step.jsonata:
                envelope["BatchInput"] = self._jsonata_value(step, batcher["BatchInput"])
            else:
                envelope["BatchInput"] = evaluate_template(
                    batcher["BatchInput"], effective, self._scope(step)
                )
        inputs = [{"Items": batch, **copy.deepcopy(envelope)} for batch in batches]
        return inputs, [len(batch) for batch in batches]

    def _run_children(
        self,
        step: _Step,
        effective: Any,
        processor: Mapping[str, Any],
        *,
        execution_type: str,
        inputs: list[Any],
        weights: list[int],
    ) -> list[ChildRun]:
        language = self.m.analysis.languages[step.name]
        machine = self.m.child_machine(step.name, processor, execution_type, language)
        tolerance = FailureTolerance(
            total_items=sum(weights),
            count=self._optional_int(step, effective, "ToleratedFailureCount"),
            percentage=self._number(step, effective, step.state, "ToleratedFailurePercentage"),
        )
        concurrency = self._count(step, effective, step.state, "MaxConcurrency")
        scheduler = VirtualScheduler(step.lane.now, concurrency or DISTRIBUTED_DEFAULT_CONCURRENCY)
        interleaver = interleave.active()
        if interleaver is not None and len(inputs) > 1:
            return self._interleave_children(
                step,
                machine=machine,
                tolerance=tolerance,
                scheduler=scheduler,
                inputs=inputs,
                weights=weights,
                interleaver=interleaver,
            )
        runs: list[ChildRun] = []
        failed_items = 0
        for position, (child_input, weight) in enumerate(zip(inputs, weights, strict=True)):
            offset = scheduler.next_start()
            started = self.started + timedelta(seconds=offset)
            child = machine.run_execution(
                child_input, f"{self.name}:{step.name}:{position}", started=started
            )
            scheduler.finish(offset + child.virtual_seconds)
            self.children.append(child)
            runs.append(ChildRun(child, started))
            if child.status == SUCCEEDED:
                continue
            failed_items += weight
            if tolerance.exceeded(failed_items):
                self._advance_to(step.lane, scheduler.end)
                raise TaskError(
                    EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    f"The tolerated failure threshold was exceeded: {failed_items} of "
                    f"{tolerance.total_items} items failed. Child execution {child.name} "
                    f"ended {child.status}: {child.error}: {child.cause}",
                )
        self._advance_to(step.lane, scheduler.end)
        return runs

    def _interleave_children(
        self,
        step: _Step,
        *,
        machine: StateMachineInterpreter,
        tolerance: FailureTolerance,
        scheduler: VirtualScheduler,
        inputs: list[Any],
        weights: list[int],
        interleaver: interleave.Interleaver,
    ) -> list[ChildRun]:
        """`_run_children` with the children running concurrently (MaxConcurrency at once).

        As on AWS, once failures exceed the tolerance no further child starts; those
        already running finish. With `interleaver.express_at_least_once`, an Express
        child may run a second time beside the first (AWS runs Express executions at
        least once): its effects happen again, its result is not the child's.
        """
        runs: dict[int, ChildRun] = {}
        failed = {"items": 0}
        exceeded: list[ExecutionResult] = []
        repeat = interleaver.express_at_least_once and machine.workflow_type == EXPRESS
        units = [
            (position, again)
            for position in range(len(inputs))
            for again in ((False, True) if repeat and interleaver.run_again() else (False,))
        ]

        def child(position: int, again: bool) -> Callable[[], ExecutionResult]:
            def run() -> ExecutionResult:
                offset = scheduler.next_start()
                started = self.started + timedelta(seconds=offset)
                result = machine.run_execution(
                    inputs[position], f"{self.name}:{step.name}:{position}", started=started
                )
                scheduler.finish(offset + result.virtual_seconds)
                if not again:
                    runs[position] = ChildRun(result, started)
                return result

            return run

        def on_done(index: int, result: ExecutionResult) -> bool:
            position, again = units[index]
            if again or result.status == SUCCEEDED or exceeded:
                return not exceeded
            failed["items"] += weights[position]
            if tolerance.exceeded(failed["items"]):
                exceeded.append(result)
                return False
            return True

        interleaver.run_concurrently(
            [child(position, again) for position, again in units],
            limit=scheduler.slots,
            names=[
                f"{self.name}:{step.name}:{position}" + (" (again)" if again else "")
                for position, again in units
            ],
            on_done=on_done,
        )
        ordered = [runs[position] for position in sorted(runs)]
        self.children.extend(run.result for run in ordered)
        self._advance_to(step.lane, scheduler.end)
        if exceeded:
            failure = exceeded[0]
            raise TaskError(
                EXCEED_TOLERATED_FAILURE_THRESHOLD,
                f"The tolerated failure threshold was exceeded: {failed['items']} of "
                f"{tolerance.total_items} items failed. Child execution {failure.name} "
                f"ended {failure.status}: {failure.error}: {failure.cause}",
            )
        return list(ordered)

    def _optional_int(self, step: _Step, effective: Any, key: str) -> int | None:
        if key not in step.state and f"{key}Path" not in step.state:
            return None
        return self._count(step, effective, step.state, key)


def _map_run_prefix(state_machine_arn: str) -> str:
    if ":stateMachine:" in state_machine_arn:
        return state_machine_arn.replace(":stateMachine:", ":mapRun:", 1)
    return f"{state_machine_arn}:mapRun"


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", dict: "an object", list: "an array"}
    return names.get(type(value), "a number")
