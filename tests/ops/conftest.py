"""The replay tests share the fault suite's helpers (deploying, feeding, conservation)."""

from __future__ import annotations

import sys
from pathlib import Path

FAULTS = str(Path(__file__).resolve().parents[1] / "faults")
if FAULTS not in sys.path:
    sys.path.insert(0, FAULTS)
