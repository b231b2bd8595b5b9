"""What the consumer tests share: where things are, and the code under its installed names.

`orderflow.components` is the `components` folder as a user imports it once the
distribution is installed (in .venv, editable: `pip install -e .`, which `make install`
does). The provider's hosted classes are imported the way the Pulumi CLI runs the plugin:
with `provider/` first on `sys.path`. Both are imported by name at run time, so these tests
run against the installed layout rather than the repository's.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_DIR = ROOT / "provider"
EXAMPLES = ROOT / "examples"
WORKFLOWS = ROOT / ".github" / "workflows"
PACKAGE = "orderflow"


def installed_components() -> ModuleType:
    """`orderflow.components`, as an installed user imports it."""
    try:
        return importlib.import_module("orderflow.components")
    except ModuleNotFoundError as missing:
        raise AssertionError(
            "orderflow is not installed in this environment: run "
            "`.venv/bin/python -m pip install --no-deps --no-build-isolation -e .` "
            "(part of `make install`)"
        ) from missing


def hosted() -> ModuleType:
    """`orderflow_provider.hosted`, imported as the provider plugin imports it."""
    installed_components()
    if str(PROVIDER_DIR) not in sys.path:
        sys.path.insert(0, str(PROVIDER_DIR))
    return importlib.import_module("orderflow_provider.hosted")


def provider_schema() -> dict[str, Any]:
    """The package schema `component_provider_host` would serve, inferred in process."""
    from pulumi.provider.experimental.component import ComponentProvider

    provider = ComponentProvider(hosted().COMPONENTS, PACKAGE, version="0.1.0")
    assert provider.schema is not None
    schema: dict[str, Any] = json.loads(provider.schema)
    return schema
