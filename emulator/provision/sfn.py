"""Step Functions state machines (executions run in `emulator.services.stepfunctions`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emulator.provision.registry import Provisioned, Request, provisioner, tags
from emulator.states import StateMachineInterpreter

if TYPE_CHECKING:
    from emulator.engine import Emulator


@provisioner("aws:sfn/stateMachine:StateMachine")
def state_machine(emulator: Emulator, request: Request) -> Provisioned:
    name = request.physical()
    # AWS checks the definition on CreateStateMachine; the interpreter's validation does here.
    StateMachineInterpreter(
        request.get("definition"),
        dispatcher=emulator.states.dispatcher,
        role_arn=request.get("roleArn"),
        state_machine_arn=name,
        workflow_type=request.get("type", "STANDARD"),
    )
    params: dict[str, Any] = {
        "name": name,
        "definition": request.get("definition"),
        "roleArn": request.get("roleArn"),
        "type": request.get("type", "STANDARD"),
        "tags": [{"key": k, "value": v} for k, v in tags(request).items()],
    }
    logging = request.get("loggingConfiguration")
    if logging:
        params["loggingConfiguration"] = {
            "level": logging.get("level", "OFF"),
            "includeExecutionData": bool(logging.get("includeExecutionData", False)),
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": logging["logDestination"]}}]
            if logging.get("logDestination")
            else [],
        }
    tracing = request.get("tracingConfiguration")
    if tracing:
        params["tracingConfiguration"] = {"enabled": bool(tracing.get("enabled", False))}
    created = emulator.client("stepfunctions").create_state_machine(**params)
    arn = created["stateMachineArn"]
    return arn, {
        "arn": arn,
        "name": name,
        "status": "ACTIVE",
        "creationDate": created["creationDate"].isoformat(),
    }
