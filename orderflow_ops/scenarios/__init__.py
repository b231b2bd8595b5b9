"""The scenario runner shared by `smoke` (AWS) and `python -m emulator run` (the emulator).

`SCENARIOS` holds the pipelines whose scenario runs through public APIs and stack outputs
only; the others still run on the emulator alone (see `emulator.scenarios`).
"""

from orderflow_ops.scenarios.base import (
    Outcome,
    PipelineOutputs,
    Scenario,
    ScenarioClients,
    ScenarioInputError,
)
from orderflow_ops.scenarios.validation import ValidationScenario

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (ValidationScenario(),)}

__all__ = [
    "SCENARIOS",
    "Outcome",
    "PipelineOutputs",
    "Scenario",
    "ScenarioClients",
    "ScenarioInputError",
]
