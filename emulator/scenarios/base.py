"""What a pipeline scenario is: how to feed one input, and how to account for it.

A scenario names the component it exercises (type and logical name in the dev stack);
the tables, queues, functions and state machines that belong to it are that
component's resources, found in the deployed stack. A new pipeline is a new scenario
module registered in `emulator.scenarios`, not a new engine.

`Outcome` and `ScenarioInputError` are the shared runner's (`orderflow_ops.scenarios`):
a pipeline converted to it (validation) feeds and accounts through boto3 clients and the
component's outputs only, the code `python -m orderflow_ops smoke` runs on AWS.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from emulator.program import Recorded
from orderflow_ops.scenarios.base import (
    Outcome,
    PipelineOutputs,
    ScenarioClients,
    ScenarioInputError,
)

if TYPE_CHECKING:
    from emulator.engine import Emulator

__all__ = ["Outcome", "Scenario", "ScenarioInputError"]


class Scenario(ABC):
    name: ClassVar[str]
    """The pipeline's name on the command line (`run <name> ...`)."""
    component_type: ClassVar[str]
    component_name: ClassVar[str]
    """Logical name of the component in the dev stack."""
    samples: ClassVar[str]
    """Folder under the repository root holding the demo inputs."""

    def component(self, emulator: Emulator) -> Recorded:
        return emulator.stack.one(self.component_type, self.component_name)

    def outputs(self, emulator: Emulator) -> PipelineOutputs:
        """The component's outputs, keyed as the stack exports them (what `smoke` reads)."""
        return PipelineOutputs.of_component(self.name, self.component(emulator).outputs)

    def clients(self, emulator: Emulator) -> ScenarioClients:
        """The shared runner's clients, moto-backed (the emulator's own, unchecked by IAM)."""
        return ScenarioClients.using(emulator.client, wait_seconds=0)

    def resource(self, emulator: Emulator, typ: str, role: str) -> Recorded:
        """The component's resource named `<component>-<role>`."""
        return emulator.stack.one(typ, f"{self.component_name}-{role}")

    def demo_inputs(self, root: Path) -> list[Path]:
        return sorted(p for p in (root / self.samples).iterdir() if p.is_file())

    def adjust_report(self, emulator: Emulator, report: dict[str, Any], fed: Any) -> dict[str, Any]:
        """Refine the generic report where the pipeline knows better (default: unchanged).

        E.g. late-data reports as `events` the `OrderReconciled` events a consumer of the
        bus received, not every event put on the bus during the run.
        """
        return report

    @abstractmethod
    def feed(self, emulator: Emulator, path: Path) -> Any:
        """Put the input into the deployed pipeline; return what `outcome` needs."""

    @abstractmethod
    def outcome(self, report: dict[str, Any], fed: Any) -> Outcome:
        """Account for every record of the input in `report` (a `build_report` result)."""
