"""JSONata (`QueryLanguage: "JSONata"`) through the optional `jsonata-python` package.

Not vendored and not a hard dependency: all orderflow workflows use JSONPath. A
definition that uses JSONata fails at construction with NotImplementedError when the
package is missing, rather than half-running. In JSONata states, strings of the form
`{% expression %}` are evaluated with `$states` (`input`, `result`, `errorOutput`,
`context`) and the workflow's variables bound.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final

from emulator.states.errors import QUERY_EVALUATION_ERROR, TaskError

MISSING_MESSAGE: Final = "JSONata needs jsonata-python"


def is_expression(value: object) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def load_jsonata() -> Any:
    """The `jsonata` module of jsonata-python, or NotImplementedError."""
    try:
        module = importlib.import_module("jsonata")
    except ImportError:
        raise NotImplementedError(MISSING_MESSAGE) from None
    if not hasattr(module, "Jsonata"):  # a different package also installs `jsonata`
        raise NotImplementedError(MISSING_MESSAGE)
    return module


class JsonataEvaluator:
    """Evaluates `{% %}` expressions and templates containing them."""

    def __init__(self) -> None:
        self._module = load_jsonata()

    def evaluate(self, text: str, states: Mapping[str, Any], variables: Mapping[str, Any]) -> Any:
        source = text.strip()
        if is_expression(source):
            source = source[2:-2]
        try:
            expression = self._module.Jsonata(source)
            expression.assign("states", dict(states))
            for name, value in variables.items():
                expression.assign(name, value)
            return expression.evaluate(None)
        except Exception as exc:  # the library raises its own JException and Python errors
            raise TaskError(QUERY_EVALUATION_ERROR, f"{source.strip()}: {exc}") from None

    def template(self, value: Any, states: Mapping[str, Any], variables: Mapping[str, Any]) -> Any:
        """Evaluate every `{% %}` string inside `value`; copy the rest."""
        if is_expression(value):
            return self.evaluate(value, states, variables)
        if isinstance(value, dict):
            return {key: self.template(item, states, variables) for key, item in value.items()}
        if isinstance(value, list):
            return [self.template(item, states, variables) for item in value]
        return value
