"""One scenario per pipeline (see `base.Scenario`); `SCENARIOS` maps CLI names to them.

The CLI accepts every pipeline of DESIGN.md; one without a scenario here is reported as
not built yet.
"""

from emulator.scenarios.base import Outcome, Scenario
from emulator.scenarios.validation import ValidationScenario

PIPELINES = ("validation", "premium", "consolidation", "late-data")
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (ValidationScenario(),)}

__all__ = ["PIPELINES", "SCENARIOS", "Outcome", "Scenario"]
