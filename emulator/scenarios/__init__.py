"""One scenario per pipeline (see `base.Scenario`); `SCENARIOS` maps CLI names to them.

The CLI accepts every pipeline of DESIGN.md; one without a scenario here is reported as
not built yet.
"""

from emulator.scenarios.base import Outcome, Scenario
from emulator.scenarios.consolidation import ConsolidationScenario
from emulator.scenarios.late_data import LateDataScenario
from emulator.scenarios.premium import PremiumScenario
from emulator.scenarios.validation import ValidationScenario

PIPELINES = ("validation", "premium", "consolidation", "late-data")
SCENARIOS: dict[str, Scenario] = {s.name: s for s in (ValidationScenario(),)}
SCENARIOS[ConsolidationScenario.name] = ConsolidationScenario()
SCENARIOS[PremiumScenario.name] = PremiumScenario()
SCENARIOS[LateDataScenario.name] = LateDataScenario()

__all__ = ["PIPELINES", "SCENARIOS", "Outcome", "Scenario"]
