"""The facts table: every fact has an AWS page, and no other code states one of its facts.

A belief about AWS written twice can be fixed once and stay wrong in the other place (the
Pipes operators and the actions without a resource ARN were listed five times, differently).
The guard reads the source of every tree that relies on AWS facts and fails on a distinctive
literal of a known fact: a `kafka-cluster:` action, an action without a resource ARN, a
list of filter operators or retention values, a payload size, a price.
"""

from __future__ import annotations

import ast
import math
import operator
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pulumi
import pytest

import orderflow.aws_facts as facts
from orderflow.aws_facts import Bounds, Fact

ROOT = Path(__file__).resolve().parent.parent
# Trees whose AWS facts must come from the table (tests may restate facts to check them).
GUARDED = ("components", "runtime", "emulator", "policy", "bench", "orderflow_ops")
AWS_HOSTS = ("docs.aws.amazon.com", "aws.amazon.com")
# Named by the fact (a fact's repr holds sets, ordered differently in each process).
ALL_FACTS = [pytest.param(name, fact, id=name) for name, fact in facts.all_facts()]


# --- the table ------------------------------------------------------------------------------


def test_the_table_holds_facts_of_every_kind() -> None:
    names = dict(facts.all_facts())
    assert len(names) >= 60, sorted(names)
    for expected in (
        "DYNAMODB_MAX_ITEM_BYTES",
        "SQS_MAX_MESSAGE_BYTES",
        "PIPES_FILTER_OPERATORS",
        "EVENT_BUS_FILTER_OPERATORS",
        "LAMBDA_MSK_IAM_AUTH_ACTIONS",
        "CLOUDWATCH_LOGS_RETENTION_DAYS",
        "ACTIONS_WITHOUT_RESOURCE_ARN[xray]",
        "PRICE_LAMBDA_REQUEST",
        "STEP_FUNCTIONS_EXPRESS_BILLING_INCREMENT_MS",
    ):
        assert expected in names


@pytest.mark.parametrize(("name", "fact"), ALL_FACTS)
def test_every_fact_names_the_aws_page_it_comes_from(name: str, fact: Fact[object]) -> None:
    url = urlparse(fact.source)
    assert url.scheme == "https", (name, fact.source)
    assert url.hostname in AWS_HOSTS, (name, fact.source)
    if url.hostname == "aws.amazon.com":
        # A blog post is not documentation: it may only back a fact marked unconfirmed.
        blog = url.path.startswith("/blogs/") and not fact.verified
        assert "/pricing" in url.path or blog, f"{name}: cite a pricing page, not {fact.source}"
    else:
        assert url.path.count("/") >= 3, f"{name}: cite the page, not a site ({fact.source})"


@pytest.mark.parametrize(("name", "fact"), ALL_FACTS)
def test_an_unconfirmed_fact_says_why(name: str, fact: Fact[object]) -> None:
    if not fact.verified:
        assert len(fact.note) >= 40, f"{name} is unverified: its note must say what is unsure"


def test_no_fact_name_is_defined_twice() -> None:
    """A second assignment in the module silently replaces the first (helpers add facts)."""
    tree = ast.parse(Path(facts.__file__).read_text())
    assigned = [
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    ]
    assert sorted({n for n in assigned if assigned.count(n) > 1}) == []


def test_the_table_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(facts.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the table imports nothing relative"
            assert node.module
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_bounds_hold_their_ends_and_nothing_else() -> None:
    window = facts.PIPES_STREAM_BATCHING_WINDOW_SECONDS.value
    assert isinstance(window, Bounds)
    assert 0 in window
    assert 300 in window
    assert -1 not in window
    assert 301 not in window
    assert str(facts.PIPES_STREAM_BATCH_SIZE.value) == "1..10,000"


def test_pipes_accept_a_subset_of_the_event_bus_operators() -> None:
    """Pipes take no `wildcard` and no nested `anything-but` (AWS's operators table)."""
    pipes = facts.PIPES_FILTER_OPERATORS.value
    assert pipes < facts.EVENT_BUS_FILTER_OPERATORS.value
    assert "wildcard" not in pipes
    assert facts.PIPES_ANYTHING_BUT_FORMS.value == frozenset()


def test_msk_iam_actions_are_keyed_by_the_resource_they_apply_to() -> None:
    actions = facts.LAMBDA_MSK_IAM_AUTH_ACTIONS.value
    assert set(actions) == {"cluster", "topic", "group"}
    assert "kafka-cluster:Connect" in actions["cluster"]
    assert "kafka-cluster:DescribeClusterDynamicConfiguration" in actions["cluster"]
    assert set(actions["topic"]) == {"kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"}


# --- the Lambda archive carries the table -----------------------------------------------------


def test_the_lambda_archive_carries_the_table_and_the_emulator_imports_it_from_there(
    tmp_path: Path,
) -> None:
    """The runtime reads the table inside Lambda: the archive's copy, not the repository's."""
    from components.lambda_function import runtime_archive
    from emulator.lambdas.archive import materialise
    from emulator.lambdas.runtime import IsolatedModules

    archive = runtime_archive("validation")
    assert isinstance(archive, pulumi.AssetArchive)
    assert "orderflow/aws_facts/__init__.py" in archive.assets
    materialise(archive, tmp_path)
    packaged = tmp_path / "orderflow" / "aws_facts" / "__init__.py"
    assert packaged.read_text() == Path(facts.__file__).read_text()
    assert not list(tmp_path.rglob("__pycache__"))
    modules = IsolatedModules(tmp_path)
    with modules.active():
        from runtime.common import dead_letter

        table = sys.modules["orderflow.aws_facts"]
        assert Path(str(table.__file__)).resolve() == packaged.resolve()
        assert facts.SQS_MAX_MESSAGE_BYTES.value == dead_letter.SQS_MAX_MESSAGE_BYTES
    assert sys.modules["orderflow.aws_facts"] is facts  # the emulator's own copy is back


# --- the guard: no fact stated outside the table -------------------------------------------


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_NAMED_NUMBERS = {"MILLION": 1_000_000, "KIB": 1024, "MIB": 1024 * 1024}


def _number(node: ast.AST) -> float | None:
    """The value of a constant arithmetic expression (`256 * 1024`, `0.40 / MILLION`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return None if isinstance(node.value, bool) else float(node.value)
    if isinstance(node, ast.Name):
        return _NAMED_NUMBERS.get(node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _number(node.left), _number(node.right)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None
        return _OPERATORS[type(node.op)](left, right)
    return None


def _strings(node: ast.AST) -> list[str]:
    elements = node.elts if isinstance(node, ast.Set | ast.List | ast.Tuple) else []
    return [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]


def _ints(node: ast.AST) -> set[int]:
    elements = node.elts if isinstance(node, ast.Set | ast.List | ast.Tuple) else []
    return {e.value for e in elements if isinstance(e, ast.Constant) and type(e.value) is int}


def _sizes() -> dict[float, str]:
    """Byte limits distinctive enough that stating one anywhere means restating a fact."""
    named = {
        "DYNAMODB_MAX_ITEM_BYTES": facts.DYNAMODB_MAX_ITEM_BYTES.value,
        "SQS_MAX_MESSAGE_BYTES": facts.SQS_MAX_MESSAGE_BYTES.value,
        "STEP_FUNCTIONS_MAX_PAYLOAD_BYTES": facts.STEP_FUNCTIONS_MAX_PAYLOAD_BYTES.value,
        "LAMBDA_SYNC_PAYLOAD_BYTES": facts.LAMBDA_SYNC_PAYLOAD_BYTES.value,
        "DYNAMODB_TRANSACT_MAX_BYTES": facts.DYNAMODB_TRANSACT_MAX_BYTES.value,
        # A range's end no product setting lands on by chance (a week, 604,800 s, is a TTL).
        "EVENTBRIDGE_TARGET_MAX_RETRY_ATTEMPTS": (
            facts.EVENTBRIDGE_TARGET_MAX_RETRY_ATTEMPTS.value.high
        ),
    }
    return {float(value): name for name, value in named.items()}


def _prices() -> dict[float, str]:
    """Every price of the table below a tenth of a cent (small enough to be distinctive)."""
    return {
        float(fact.value): name
        for name, fact in facts.all_facts()
        if name.startswith("PRICE_") and isinstance(fact.value, float) and fact.value < 1e-3
    }


def findings_in(source: str, path: str) -> Iterator[Finding]:
    """Facts of the table that `source` states as literals instead of importing them."""
    tree = ast.parse(source)
    no_arn = facts.actions_without_resource_arn()
    sizes, prices = _sizes(), _prices()
    pipes_ops = facts.EVENT_BUS_FILTER_OPERATORS.value
    retention = facts.CLOUDWATCH_LOGS_RETENTION_DAYS.value
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("kafka-cluster:"):
                yield Finding(path, line, f"the MSK IAM action {node.value!r}")
            elif node.value in no_arn:
                yield Finding(path, line, f"the action without a resource ARN {node.value!r}")
        operators = [s for s in _strings(node) if s in pipes_ops]
        if len(operators) >= 3:
            yield Finding(path, line, f"a list of filter operators {sorted(operators)}")
        if len(_ints(node) & retention) >= 5:
            yield Finding(path, line, "the CloudWatch Logs retention values")
        if isinstance(node, ast.Constant | ast.BinOp) and (value := _number(node)) is not None:
            if value in sizes:
                yield Finding(path, line, f"{ast.unparse(node)} (= {sizes[value]})")
            # A bare 1e-06 is as likely an epsilon as $1 per million: only `1.00 / MILLION`.
            round_constant = (
                isinstance(node, ast.Constant) and value > 0 and math.log10(value).is_integer()
            )
            for price, name in prices.items():
                if math.isclose(value, price, rel_tol=1e-9) and not round_constant:
                    yield Finding(path, line, f"{ast.unparse(node)} (= {name})")


def guarded_sources() -> Iterator[tuple[str, str]]:
    for tree in GUARDED:
        for path in sorted((ROOT / tree).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path.read_text()


def test_the_guard_reads_every_tree_that_relies_on_aws_facts() -> None:
    read = {path.split("/", 1)[0] for path, _ in guarded_sources()}
    assert read == set(GUARDED)


def test_no_component_runtime_policy_bench_or_emulator_states_a_fact_outside_the_table() -> None:
    found = [str(f) for path, source in guarded_sources() for f in findings_in(source, path)]
    assert found == [], "import these from orderflow.aws_facts instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "restated",
    [
        'ACTIONS = ["kafka-cluster:Connect", "kafka-cluster:ReadData"]',
        'Statement(actions=["dynamodb:ListStreams"], resources=["*"])',
        '_anywhere("xray:PutTraceSegments")',
        'OPS = frozenset({"prefix", "suffix", "anything-but", "numeric", "exists"})',
        "MAX_PAYLOAD_BYTES = 262_144",
        "LIMIT = 256 * 1024",
        "ITEM = 400 * 1024",
        "SYNC = 6 * 1024 * 1024",
        "express_gb_second: float = 0.00001667",
        "lambda_request: float = 0.20 / MILLION",
        "standard_transition = 0.025 / 1_000",
        "MAX_DELIVERY_ATTEMPTS = 185",
        "DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827}",
    ],
)
def test_the_guard_fails_on_each_kind_of_restated_fact(restated: str) -> None:
    assert list(findings_in(restated, "example.py")), restated


@pytest.mark.parametrize(
    "innocent",
    [
        '"""Needs `kafka-cluster:Connect` on the cluster (a docstring names it)."""',
        "actions=list(LAMBDA_MSK_IAM_AUTH_ACTIONS.value['cluster'])",
        "SNIFF_BYTES = 64 * 1024",
        'KEYS = ["prefix", "suffix"]',
        "TIMEOUT = 300",
        "DAYS = {7, 14, 30}",
    ],
)
def test_the_guard_lets_imports_and_unrelated_numbers_pass(innocent: str) -> None:
    assert list(findings_in(innocent, "example.py")) == []
