"""The scenario runner shared by `smoke` (AWS) and `python -m emulator run` (the emulator).

`SCENARIOS` holds the pipelines whose scenario runs through public APIs and stack outputs
only; `NOT_ON_AWS` says, for each of the others, what keeps it on the emulator alone (see
`emulator.scenarios`).
"""

from orderflow_ops.scenarios.base import (
    Outcome,
    PipelineOutputs,
    Scenario,
    ScenarioClients,
    ScenarioInputError,
)
from orderflow_ops.scenarios.late_data import LateDataScenario
from orderflow_ops.scenarios.validation import ValidationScenario

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (ValidationScenario(), LateDataScenario())}
NOT_ON_AWS: dict[str, str] = {
    "premium": (
        "its accounting still reads the emulator's pipes (which records their filters "
        "dropped) and the handlers' in-process logs (skip reasons); on AWS it needs the "
        "handlers' CloudWatch Logs and the pipes' filters evaluated client-side"
    ),
    "consolidation": (
        "feeding it needs a Kafka producer that reaches the MSK cluster (inside its VPC, "
        "IAM auth); smoke runs outside that network and AWS has no public API that "
        "writes to a topic"
    ),
}

__all__ = [
    "NOT_ON_AWS",
    "SCENARIOS",
    "Outcome",
    "PipelineOutputs",
    "Scenario",
    "ScenarioClients",
    "ScenarioInputError",
]
