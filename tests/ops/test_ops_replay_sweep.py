"""A sweep that fails is never silent: it is dead-lettered (`sweep_failed`), its execution
fails (the workflow's alarm), and replaying the letter runs the sweep again.

One emulator for the module (the LateDataReconciler alone, dev settings); the sweep
function fails by injection until the operator's fix.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fault_support import QUEUE, STATE_MACHINE, clients, deployed, output
from test_faults_late_data import PIPELINE, tick

from emulator.engine import Emulator
from emulator.faults import Faults
from orderflow_ops.clients import build_redrivers
from orderflow_ops.queue import DeadLetterQueue
from orderflow_ops.replay import list_letters, redrive

pytestmark = pytest.mark.e2e

SWEEP_FAILED = "sweep_failed"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed(PIPELINE) as emulator:
        yield emulator


def test_a_failed_sweep_is_dead_lettered_then_replayed(emulator: Emulator) -> None:
    queue = DeadLetterQueue(
        clients(emulator).sqs, output(emulator, QUEUE, "late-data-dlq", "url"), wait_seconds=0
    )
    with Faults(emulator) as faults:
        faults.lambda_errors("late-data-sweep", times=None, message="ledger index unavailable")
        run = tick(emulator)
    # The tick fires every occurrence the clock passes: each sweep fails, each is a letter.
    statuses = [e["status"] for e in run.report["executions"]]
    assert statuses
    assert set(statuses) == {"FAILED"}
    failed = [e for e in run.report["errors"] if e.get("kind") == "execution"]
    assert [e["error"] for e in failed] == ["SweepFailed"] * len(statuses)
    letters = [x for x in list_letters(queue) if x.reason == SWEEP_FAILED]
    assert len(letters) == len(statuses)
    assert all(x.payload == {"mode": "sweep"} for x in letters)
    assert all("ledger index unavailable" in x.message for x in letters)

    # Fixed: the replay starts the sweeps again, which now succeed; the letters are gone.
    workflow = output(emulator, STATE_MACHINE, "late-data-workflow", "arn")
    redrivers = build_redrivers(clients(emulator), pipeline=PIPELINE, state_machine_arn=workflow)
    done = redrive(queue, redrivers, ids=[x.id for x in letters])
    assert [(d.status, d.deleted) for d in done] == [("redriven", 1)] * len(letters)
    before = len(emulator.states.executions)
    emulator.run_until_idle()
    replayed = emulator.states.executions[before:]
    assert [(r.status, r.result.input if r.result else None) for r in replayed] == [
        ("SUCCEEDED", {"mode": "sweep"})
    ] * len(letters)
    assert [x for x in list_letters(queue) if x.reason == SWEEP_FAILED] == []
