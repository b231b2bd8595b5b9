"""Find the functions a workflow calls, by state name, from its deployed definition.

The stack exports workflow ARNs but not every function name; the definition names each
`lambda:invoke` target, so a redriver can reach the function the workflow would have
called without one more stack output (and without guessing Pulumi's physical names).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any


def _states(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in (definition.get("States") or {}).items():
        if not isinstance(state, Mapping):
            continue
        yield name, state
        for nested in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(nested), Mapping):
                yield from _states(state[nested])
        for branch in state.get("Branches") or []:
            if isinstance(branch, Mapping):
                yield from _states(branch)


def invoked_functions(definition: Mapping[str, Any]) -> dict[str, str]:
    """State name → `FunctionName` of every Lambda task, nested states included."""
    found: dict[str, str] = {}
    for name, state in _states(definition):
        resource = str(state.get("Resource", ""))
        parameters = state.get("Parameters") or state.get("Arguments") or {}
        if state.get("Type") != "Task" or not isinstance(parameters, Mapping):
            continue
        if resource.startswith("arn:aws:states:::lambda:invoke"):
            function = parameters.get("FunctionName")
            if isinstance(function, str):
                found[name] = function
        elif ":lambda:" in resource and ":function:" in resource:
            found[name] = resource
    return found


def workflow_functions(sfn: Any, state_machine_arn: str) -> dict[str, str]:
    """`invoked_functions` of a deployed state machine (one DescribeStateMachine call)."""
    described = sfn.describe_state_machine(stateMachineArn=state_machine_arn)
    definition = json.loads(described["definition"])
    return invoked_functions(definition) if isinstance(definition, Mapping) else {}


def function_for(functions: Mapping[str, str], state_prefix: str) -> str | None:
    """The function of the first state whose name starts with `state_prefix`."""
    return next((arn for name, arn in functions.items() if name.startswith(state_prefix)), None)
