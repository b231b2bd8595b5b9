"""An Amazon States Language interpreter for the embedded emulator.

`StateMachineInterpreter(definition, dispatcher=..., role_arn=..., state_machine_arn=...)`
validates a definition, and `.execute(input, name)` runs it to an `ExecutionResult`.
Every service call goes to the `TaskDispatcher`, which raises `TaskError` for failures.
"""

from emulator.states.errors import TaskError
from emulator.states.history import HistoryEvent
from emulator.states.interpreter import StateMachineInterpreter
from emulator.states.model import ExecutionResult, TaskContext, TaskDispatcher

__all__ = [
    "ExecutionResult",
    "HistoryEvent",
    "StateMachineInterpreter",
    "TaskContext",
    "TaskDispatcher",
    "TaskError",
]
