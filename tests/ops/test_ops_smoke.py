"""`smoke`: the shared scenario runner, driven exactly as on AWS, with the emulator behind
the clients (its virtual time passing while `smoke` waits), and the accounting it prints.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pulumi_harness import PulumiHarness

from emulator.cli import print_summary, run_scenario
from emulator.engine import REPO_ROOT, Emulator
from emulator.scenarios import SCENARIOS as EMULATOR_SCENARIOS
from orderflow_ops.cli import parser
from orderflow_ops.scenarios import PipelineOutputs
from orderflow_ops.smoke import Waiting, run
from orderflow_ops.stack import OUTPUT_PREFIX

SAMPLES = sorted((REPO_ROOT / "samples" / "validation").iterdir())


@pytest.fixture(scope="module")
def deployed() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.deploy(REPO_ROOT, "dev")
        yield emulator


def smoke(
    emulator: Emulator, outputs: dict[str, object], tmp_path: Path, waiting: Waiting, *extra: str
) -> tuple[int, str, str]:
    """`smoke` with its uploads under a prefix of this test's own (as each run has its own)."""
    path = tmp_path / "out.json"
    path.write_text(json.dumps(outputs))
    # moto answers every receive from the whole queue: no long poll needed (nor waited).
    argv = ["smoke", "--stack-outputs", str(path), "--wait-seconds", "0", *extra]
    args = parser().parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    stamp = tmp_path.name
    code = run(args, emulator.client, out, waiting=waiting, progress=err, stamp=stamp)
    return code, out.getvalue(), err.getvalue()


def while_waiting_the_emulator_works(emulator: Emulator) -> Waiting:
    """AWS works while `smoke` sleeps; the emulator works when asked to."""

    def sleep(_: float) -> None:
        emulator.run_until_idle()

    return Waiting(timeout=60, poll_seconds=10, sleep=sleep)


def test_smoke_feeds_waits_and_accounts_for_every_sample_record(
    deployed: Emulator, tmp_path: Path
) -> None:
    waiting = while_waiting_the_emulator_works(deployed)
    code, out, err = smoke(deployed, deployed.stack.outputs, tmp_path, waiting)
    assert code == 0, out + err
    for sample in SAMPLES:
        assert f"validation <- samples/validation/{sample.name} (incoming/smoke-test_" in out
    assert out.count("result          OK") == len(SAMPLES)
    # Progress: nothing accounted for right after the upload, everything once settled.
    assert "smoke: validation <- orders.jsonl: 0/" in err
    assert "record(s) accounted for after" in err
    assert "smoke: premium: no AWS scenario yet (emulator only), skipped" in err


def test_smoke_prints_the_accounting_python_m_emulator_run_prints(
    deployed: Emulator, tmp_path: Path
) -> None:
    sample = REPO_ROOT / "samples" / "validation" / "orders.jsonl"
    report, outcome = run_scenario(deployed, EMULATOR_SCENARIOS["validation"], sample)
    printed = io.StringIO()
    print_summary(report, outcome, sample, printed)
    waiting = while_waiting_the_emulator_works(deployed)
    code, out, _ = smoke(
        deployed, deployed.stack.outputs, tmp_path, waiting, "--pipeline", "validation"
    )
    assert code == 0
    emulator_block = printed.getvalue().splitlines()[1 : 4 + len(outcome.reasons)]
    lines = out.splitlines()
    header = next(
        i
        for i, x in enumerate(lines)
        if x.startswith("validation <- samples/validation/orders.jsonl")
    )
    smoke_block = lines[header + 1 : header + 4 + len(outcome.reasons)]
    assert smoke_block == emulator_block
    assert emulator_block[0] == f"  records in      {outcome.records_in}"


def test_a_stack_that_does_not_settle_fails_with_the_timeout_named(
    deployed: Emulator, tmp_path: Path
) -> None:
    now = [0.0]  # a clock that moves only while smoke sleeps; the emulator never runs

    def sleep(seconds: float) -> None:
        now[0] += seconds

    waiting = Waiting(timeout=60, poll_seconds=30, clock=lambda: now[0], sleep=sleep)
    code, out, err = smoke(
        deployed, deployed.stack.outputs, tmp_path, waiting, "--pipeline", "validation"
    )
    assert code == 1
    assert "PROBLEM: not settled before the timeout" in out
    assert "lost" in out  # the accounting says what is missing
    assert err.count("smoke: validation <- orders.jsonl:") == 3  # at 0, 30 and 60 s
    deployed.run_until_idle()  # let this test's uploads finish before the next test


def test_a_missing_export_is_named_not_guessed(deployed: Emulator, tmp_path: Path) -> None:
    outputs = dict(deployed.stack.outputs)
    del outputs["validationDeliveryDeadLetterQueueUrl"]
    waiting = while_waiting_the_emulator_works(deployed)
    code, out, _ = smoke(deployed, outputs, tmp_path, waiting, "--pipeline", "validation")
    assert code == 1
    assert "ResolutionError: the stack outputs have no validationDeliveryDeadLetterQueueUrl" in out


def test_the_stack_exports_each_component_output_under_the_runner_s_name(
    pulumi_harness: PulumiHarness,
) -> None:
    """The emulator reads a component's outputs, `smoke` the stack's: the names must agree."""
    stack = pulumi_harness.run_stack_program(REPO_ROOT, "dev")
    components = {r.name: r for r in stack if r.type.startswith("orderflow:index:")}
    for pipeline, prefix in OUTPUT_PREFIX.items():
        exported = {k: v for k, v in stack.outputs.items() if k.startswith(prefix)}
        if pipeline not in components:
            assert not exported
            continue
        derived = PipelineOutputs.of_component(pipeline, components[pipeline].outputs).outputs
        assert exported, f"the stack exports nothing of {pipeline}"
        assert {k: derived.get(k) for k in exported} == exported
