"""Regenerate what is derived from the components' code, or check that nothing drifted.

    .venv/bin/python -m docs.generate           # rewrite the generated parts
    .venv/bin/python -m docs.generate --check   # exit 1 if any is stale (what CI's tests do)

Generated are: in each component page, the blocks between `<!-- BEGIN GENERATED <part> -->`
and `<!-- END GENERATED <part> -->` (arguments, outputs, cost), and the provider's hosted
classes (`provider/orderflow_provider/hosted.py`). Everything else in the pages is prose.
Cost figures come from `bench/results.json` (written by `make bench`) when it exists.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import components

from .component_api import ComponentApi, Field, describe_all
from .provider_hosted import HOSTED_PATH, render_hosted

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BENCH_RESULTS = ROOT / "bench" / "results.json"

PAGES = {
    "ValidationPipeline": "validation-pipeline.md",
    "PremiumOrderPipe": "premium-order-pipe.md",
    "ConsolidationConsumer": "consolidation-consumer.md",
    "LateDataReconciler": "late-data-reconciler.md",
}
# How a pipeline may be named in bench/results.json (the emulator's pipeline names first).
BENCH_KEYS = {
    "ValidationPipeline": ("validation", "ValidationPipeline", "validation-pipeline"),
    "PremiumOrderPipe": ("premium", "PremiumOrderPipe", "premium-order-pipe", "orders"),
    "ConsolidationConsumer": (
        "consolidation",
        "ConsolidationConsumer",
        "consolidation-consumer",
    ),
    "LateDataReconciler": (
        "late-data",
        "late_data",
        "LateDataReconciler",
        "late-data-reconciler",
        "reconciliation",
    ),
}
NOT_MEASURED = (
    "_Not measured yet: `make bench` writes `bench/results.json`, and "
    "`python -m docs.generate` then fills this section from it._"
)


@dataclass(frozen=True)
class Target:
    """One generated file: where it lives and what it must contain."""

    path: Path
    expected: str

    def current(self) -> str:
        return self.path.read_text() if self.path.exists() else ""


def targets(bench_results: Path = BENCH_RESULTS) -> list[Target]:
    """Every generated file with its expected content, from the code as it is now."""
    apis = describe_all(components)
    results = json.loads(bench_results.read_text()) if bench_results.exists() else None
    found = [Target(ROOT / HOSTED_PATH, ruff_format(render_hosted(apis), ROOT / HOSTED_PATH))]
    for api in apis:
        page = DOCS / PAGES[api.name]
        text = page.read_text()
        for part, render in _parts(results).items():
            text = replace_block(text, part, render(api))
        found.append(Target(page, text))
    return found


def _parts(results: Any) -> dict[str, Callable[[ComponentApi], str]]:
    return {
        "arguments": arguments_table,
        "outputs": outputs_table,
        "cost": lambda api: cost_section(api, results),
    }


def arguments_table(api: ComponentApi) -> str:
    rows = [
        "| argument | type | default | description |",
        "| --- | --- | --- | --- |",
        *(f"| {_name(f)} | {_type(f)} | {_cell(f.default)} | {_cell(f.doc)} |" for f in api.inputs),
    ]
    return "\n".join(rows)


def outputs_table(api: ComponentApi) -> str:
    rows = [
        "| output | type | description |",
        "| --- | --- | --- |",
        *(f"| {_name(f)} | {_type(f)} | {_cell(f.doc)} |" for f in api.outputs),
    ]
    return "\n".join(rows)


def cost_section(api: ComponentApi, results: Any) -> str:
    """The pipeline's figures from bench/results.json, whatever their shape, as a table."""
    if results is None:
        return NOT_MEASURED
    entry = _find_pipeline(results, BENCH_KEYS[api.name])
    if entry is None:
        return "_`bench/results.json` has no figures for this pipeline yet._"
    rows = ["| measure | value |", "| --- | --- |"]
    rows += [f"| `{path}` | {_cell(_value(v))} |" for path, v in _flatten(entry)]
    generated = results.get("generated_at") if isinstance(results, Mapping) else None
    when = f", generated {generated}" if isinstance(generated, str) else ""
    return f"From `bench/results.json` (`make bench`{when}):\n\n" + "\n".join(rows)


def block_markers(part: str) -> tuple[str, str]:
    return (
        f"<!-- BEGIN GENERATED {part}: python -m docs.generate -->",
        f"<!-- END GENERATED {part} -->",
    )


def block(text: str, part: str) -> str:
    """The generated content between the markers of `part`."""
    begin, end = block_markers(part)
    match = re.search(re.escape(begin) + r"\n(.*?)\n?" + re.escape(end), text, re.S)
    if match is None:
        raise ValueError(f"no generated {part!r} block (markers {begin!r} … {end!r})")
    return match.group(1)


def replace_block(text: str, part: str, content: str) -> str:
    block(text, part)  # raises when the markers are missing
    begin, end = block_markers(part)
    pattern = re.escape(begin) + r"\n.*?" + re.escape(end)
    return re.sub(pattern, lambda _: f"{begin}\n{content}\n{end}", text, count=1, flags=re.S)


def ruff_format(source: str, path: Path) -> str:
    """`source` as `ruff format` (this repository's settings) would leave it at `path`."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        raise RuntimeError("ruff is needed to format generated code: `make install`")
    done = subprocess.run(  # noqa: S603  (a fixed tool on our own generated text)
        [ruff, "format", "--stdin-filename", str(path), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def _find_pipeline(results: Any, keys: Iterable[str]) -> Any:
    if not isinstance(results, Mapping):
        return None
    for scope in (results, *(v for v in results.values() if isinstance(v, Mapping))):
        for key in keys:
            if key in scope:
                return scope[key]
    return None


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        rows: list[tuple[str, Any]] = []
        for key, item in value.items():
            rows += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return rows
    return [(prefix or "value", value)]


def _value(value: Any) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _name(field: Field) -> str:
    if field.schema_name == field.name:
        return f"`{field.name}`"
    return f"`{field.name}` (`{field.schema_name}`)"


def _type(field: Field) -> str:
    return f"`{field.type.python()}` (`{field.type.schema()}`)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docs.generate", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    options = parser.parse_args(argv)
    stale = [t for t in targets() if t.current() != t.expected]
    for target in stale:
        print(f"{'stale' if options.check else 'updated'}: {target.path.relative_to(ROOT)}")
        if not options.check:
            target.path.write_text(target.expected)
    return 1 if options.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
