"""The result of a run as one JSON object (the `run --json` contract of DESIGN.md).

`{"pipeline", "tables", "queues", "events", "executions", "invocations", "iam_denied",
"errors"}`. Tables, queues and functions are those of the pipeline's component, named by
their Pulumi logical names; table items are plain JSON (numbers as int/float), queue
bodies are parsed when they are JSON. Contents are read from moto's backends directly,
so reading changes nothing (no receive, no visibility timeout, no metering).
Events, executions, invocations, denials and errors are those since `mark`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from moto.dynamodb.models import dynamodb_backends
from moto.sqs.models import sqs_backends

from emulator.program import ACCOUNT, REGION, Recorded
from orderflow_ops.scenarios.reading import plain

if TYPE_CHECKING:
    from emulator.engine import Emulator

TABLE = "aws:dynamodb/table:Table"
QUEUE = "aws:sqs/queue:Queue"
FUNCTION = "aws:lambda/function:Function"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"


@dataclass(frozen=True)
class Mark:
    """How much of each running log existed at a moment (to report one scenario's share)."""

    events: int = 0
    executions: int = 0
    invocations: int = 0
    denials: int = 0
    errors: int = 0

    @classmethod
    def now(cls, emulator: Emulator) -> Mark:
        return cls(
            len(emulator.events.emitted),
            len(emulator.states.executions),
            len(emulator.lambdas.invocations),
            len(emulator.guard.denials),
            len(emulator.errors),
        )


def table_items(table_name: str) -> list[dict[str, Any]]:
    """Every item of a table, as plain JSON, in key order."""
    table = dynamodb_backends[ACCOUNT][REGION].get_table(table_name)
    deserializer = TypeDeserializer()
    items = [
        {k: plain(deserializer.deserialize(v)) for k, v in item.to_json()["Attributes"].items()}
        for item in table.all_items()
    ]
    keys = [a["AttributeName"] for a in table.schema]
    return sorted(items, key=lambda item: [str(item.get(k)) for k in keys])


def queue_bodies(queue_name: str) -> list[Any]:
    """Bodies of the messages in a queue (in flight or not), parsed when they are JSON."""
    queue = sqs_backends[ACCOUNT][REGION].get_queue(queue_name)
    bodies: list[Any] = []
    for message in queue._messages:
        try:
            bodies.append(json.loads(message.body))
        except ValueError:
            bodies.append(message.body)
    return bodies


def _named(resources: Iterable[Recorded], typ: str, key: str) -> dict[str, str]:
    """Logical name → physical name (or ARN) of the resources of one type."""
    return {r.name: r.state[key] for r in resources if r.type == typ}


def build_report(
    emulator: Emulator, pipeline: str, component: Recorded, mark: Mark
) -> dict[str, Any]:
    members = emulator.stack.descendants_of(component)
    functions = {
        physical: logical for logical, physical in _named(members, FUNCTION, "name").items()
    }
    machines = set(_named(members, STATE_MACHINE, "arn").values())
    invocations = dict.fromkeys(sorted(functions.values()), 0)
    for invocation in emulator.lambdas.invocations[mark.invocations :]:
        if invocation.function in functions:
            invocations[functions[invocation.function]] += 1
    return {
        "pipeline": pipeline,
        "tables": {n: table_items(t) for n, t in sorted(_named(members, TABLE, "name").items())},
        "queues": {n: queue_bodies(q) for n, q in sorted(_named(members, QUEUE, "name").items())},
        "events": emulator.events.emitted[mark.events :],
        "executions": [
            {"name": x.name, "status": x.status}
            for x in emulator.states.executions[mark.executions :]
            if x.state_machine_arn in machines
        ],
        "invocations": invocations,
        "iam_denied": [d.as_dict() for d in emulator.guard.denials[mark.denials :]],
        "errors": emulator.errors[mark.errors :],
    }
