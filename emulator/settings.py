"""The emulator's own stack settings, laid under the stack file it deploys.

Why: a stack file users deploy must name nothing they don't own, yet `make demo` runs all
four pipelines, and the ConsolidationConsumer needs an MSK cluster, subnets and security
groups that exist only here. `settings.yaml` holds those values once; `stack_settings`
adds each of its keys the stack file leaves out (the stack's own keys always win), so the
same `__main__.py` builds the same resources from one set of settings, with no second copy
of the stack in the emulator.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Final

import yaml

from emulator.program import stack_config

SETTINGS_FILE: Final = Path(__file__).with_name("settings.yaml")


def emulator_settings() -> dict[str, Any]:
    """The `config:` map of `emulator/settings.yaml`."""
    loaded = yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict) or not isinstance(loaded.get("config"), dict):
        raise ValueError(f"{SETTINGS_FILE.name} must hold a `config:` map")
    settings: dict[str, Any] = loaded["config"]
    return settings


def stack_settings(root: Path, stack: str = "dev") -> dict[str, Any]:
    """`Pulumi.<stack>.yaml`'s config plus the emulator's settings for the keys it leaves out."""
    config = copy.deepcopy(stack_config(root, stack))
    for key, value in emulator_settings().items():
        config.setdefault(key, copy.deepcopy(value))
    return config
