"""`StartExecution` of an Express state machine, as AWS answers it (moto treats it as Standard).

AWS starts an Express execution without name idempotency (the same name may start
again, even while one runs), returns an ARN of the form
`arn:aws:states:<region>:<account>:express:<machine>:<name>:<id>`, and keeps no execution
record: `DescribeExecution`, `ListExecutions` and `GetExecutionHistory` do not serve
Express executions (their trace is the state machine's CloudWatch log group). So the
execution built here is never added to moto's list of the machine's executions; moto
then answers those calls with `ExecutionDoesNotExist` / an empty list. What the
emulator ran is kept in `emulator.states.executions` (name, ARN, status, error, cause,
and the interpreter's result with input, output and history): the report's
`executions` and, for a failed run, `errors` come from there.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.stepfunctions.models import Execution, StateMachine, StepFunctionBackend

EXPRESS = "EXPRESS"


def is_express(machine: Any) -> bool:
    return getattr(machine, "type", "STANDARD") == EXPRESS


def express_execution_arn(state_machine_arn: str, name: str) -> str:
    """`…:stateMachine:<machine>` → `…:express:<machine>:<name>:<unique id>`."""
    base = state_machine_arn.replace(":stateMachine:", ":express:", 1)
    return f"{base}:{name}:{uuid.uuid4()}"


def start_express(
    backend: StepFunctionBackend, machine: StateMachine, name: str | None, execution_input: str
) -> Execution:
    """A new Express execution (checked like StartExecution checks it), not recorded in moto."""
    if name:
        backend._validate_name(name)
    machine._validate_execution_input(execution_input)
    execution_name = name or str(uuid.uuid4())
    execution = Execution(
        region_name=backend.region_name,
        account_id=backend.account_id,
        state_machine_name=machine.name,
        execution_name=execution_name,
        state_machine_arn=machine.arn,
        execution_input=execution_input,
    )
    execution.execution_arn = express_execution_arn(machine.arn, execution_name)
    return execution
