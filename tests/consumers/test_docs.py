"""The documentation cannot drift from the code: each component page's argument and output
tables, its cost section and the provider's hosted classes are generated, and must equal
what the generator makes of the code now.

After a deliberate change to a component's arguments or outputs (or new bench results),
regenerate with `.venv/bin/python -m docs.generate` (or
`ORDERFLOW_UPDATE_DOCS=1 .venv/bin/python -m pytest tests/consumers/test_docs.py`) and
review the diff like code.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import NoneType
from typing import Any, get_args, get_type_hints

import pulumi
import pytest
from consumers_support import ROOT

import components
from docs import generate
from docs.component_api import COMPONENT_NAMES, describe
from orderflow_ops.cli import parser as ops_parser

UPDATE = os.environ.get("ORDERFLOW_UPDATE_DOCS") == "1"
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


@pytest.fixture(scope="module")
def targets() -> dict[str, generate.Target]:
    return {str(t.path.relative_to(ROOT)): t for t in generate.targets()}


def test_generated_files_are_current(targets: dict[str, generate.Target]) -> None:
    stale = []
    for name, target in targets.items():
        if target.current() != target.expected:
            if UPDATE:
                target.path.write_text(target.expected)
            else:
                stale.append(name)
    assert stale == [], "regenerate with `.venv/bin/python -m docs.generate` and review the diff"


def table_names(page: str, part: str) -> list[str]:
    """First-column names of a generated table: `` `key_prefix` (`keyPrefix`) `` → key_prefix."""
    rows = generate.block((DOCS / page).read_text(), part).splitlines()[2:]
    return [re.match(r"\| `([a-z_]+)`", row).group(1) for row in rows]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", COMPONENT_NAMES)
def test_every_argument_and_output_has_exactly_one_row(name: str) -> None:
    """Independent of the generator: rows against the TypedDict and the class annotations."""
    cls = getattr(components, name)
    hint = get_type_hints(cls.__init__, localns={"Output": pulumi.Output, "T": Any})["args"]
    args = next(a for a in (*get_args(hint), hint) if isinstance(a, type) and a is not NoneType)
    page = generate.PAGES[name]
    assert table_names(page, "arguments") == list(args.__annotations__)
    assert table_names(page, "outputs") == [n for n in cls.__annotations__ if not n.startswith("_")]


@pytest.mark.parametrize("name", COMPONENT_NAMES)
def test_each_row_states_type_default_and_docstring(name: str) -> None:
    api = describe(getattr(components, name))
    text = generate.block((DOCS / generate.PAGES[name]).read_text(), "arguments")
    for field in api.inputs:
        row = next(r for r in text.splitlines() if r.startswith(f"| `{field.name}`"))
        assert field.type.python() in row
        assert field.doc.replace("|", "\\|") in row
    required = [f.name for f in api.inputs if f.default == "required"]
    assert required == sorted(required, key=[f.name for f in api.inputs].index)


def test_cost_sections_follow_bench_results(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            {
                "pipelines": {
                    "validation": {"usd_per_million_records": 0.4213, "lambda": {"invocations": 7}}
                }
            }
        )
    )
    pages = {t.path.name: t.expected for t in generate.targets(bench_results=results)}
    validation = generate.block(pages["validation-pipeline.md"], "cost")
    assert "| `usd_per_million_records` | 0.4213 |" in validation
    assert "| `lambda.invocations` | 7 |" in validation
    assert "no figures" in generate.block(pages["late-data-reconciler.md"], "cost")
    # The shape `make bench` writes: pipelines at the top level, by the emulator's names.
    results.write_text(
        json.dumps(
            {
                "late-data": {"cost_per_million_usd": 1.5, "records": None},
                "generated_at": "2026-11-22T14:00:00Z",
            }
        )
    )
    pages = {t.path.name: t.expected for t in generate.targets(bench_results=results)}
    late = generate.block(pages["late-data-reconciler.md"], "cost")
    assert "generated 2026-11-22T14:00:00Z" in late
    assert "| `cost_per_million_usd` | 1.5 |" in late
    assert "| `records` | not measured |" in late
    missing = {t.path.name: t.expected for t in generate.targets(bench_results=tmp_path / "none")}
    assert generate.block(missing["premium-order-pipe.md"], "cost") == generate.NOT_MEASURED


def test_cost_sections_match_bench_results_json_when_it_exists() -> None:
    """Covered by the generated-files check; spelled out because bench/ is built separately."""
    for name, page in generate.PAGES.items():
        cost = generate.block((DOCS / page).read_text(), "cost")
        if generate.BENCH_RESULTS.exists():
            results = json.loads(generate.BENCH_RESULTS.read_text())
            assert cost == generate.cost_section(describe(getattr(components, name)), results)
        else:
            assert cost == generate.NOT_MEASURED


@pytest.mark.parametrize("page", sorted(generate.PAGES.values()))
def test_component_pages_have_a_diagram_and_operations_notes(page: str) -> None:
    text = (DOCS / page).read_text()
    assert "```mermaid\nflowchart" in text
    for heading in ("## Arguments", "## Outputs", "## Cost", "## Operations"):
        assert heading in text
    assert "operations.md#replaying-dead-letters" in text


def test_the_consumer_page_keeps_the_seed_troubleshooting_cases() -> None:
    text = (DOCS / "consolidation-consumer.md").read_text()
    for case in (
        "The function is not invoked",
        "get-event-source-mapping",
        "Check IAM",
        "table schema",
        "High error rate",
        "ApproximateNumberOfMessages",
        "Replaying dead letters",
    ):
        assert case in text


def test_replay_notes_give_commands_the_cli_accepts() -> None:
    """Every `orderflow_ops` line in the operations notes parses with the real CLI."""
    commands = [
        re.sub(r"\s*\[.*\]", "", line.strip()).split()[3:]
        for line in (DOCS / "operations.md").read_text().splitlines()
        if line.strip().startswith("python -m orderflow_ops")
    ]
    assert len(commands) >= 3
    for argv in commands:
        ops_parser().parse_args(argv)


def test_readme_links_the_documentation() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    for page in [*generate.PAGES.values(), "provider.md", "packaging.md", "examples.md"]:
        assert f"docs/{page}" in section, page
    assert "orderflow.components" in readme


@pytest.mark.parametrize(
    "path",
    [ROOT / "README.md", *sorted(DOCS.glob("*.md")), ROOT / "provider" / "README.md"],
    ids=lambda p: p.name,
)
def test_relative_links_resolve(path: Path) -> None:
    broken = [
        target
        for target, _ in LINK.findall(path.read_text())
        if "://" not in target and not (path.parent / target).exists()
    ]
    assert broken == []
