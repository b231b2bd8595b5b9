"""What a pipeline scenario is: how to feed one input, and how to account for it.

A scenario names the component it exercises (type and logical name in the dev stack);
the tables, queues, functions and state machines that belong to it are that
component's resources, found in the deployed stack. A new pipeline is a new scenario
module registered in `emulator.scenarios`, not a new engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from emulator.program import Recorded

if TYPE_CHECKING:
    from emulator.engine import Emulator


class ScenarioInputError(ValueError):
    """An input file that is not of the shape its pipeline's scenario documents."""


@dataclass
class Outcome:
    """Where the records of one input ended up, and what does not add up."""

    label: str
    records_in: int
    stored: int
    dead_lettered: int
    reasons: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    """Extra summary lines a pipeline wants shown (e.g. per-pipe counts)."""


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
