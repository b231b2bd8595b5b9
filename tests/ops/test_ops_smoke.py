"""`smoke`: the shared scenario runner, driven exactly as on AWS, with the emulator behind
the clients (its virtual time passing while `smoke` waits), and the accounting it prints.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from pulumi_harness import PulumiHarness

from emulator.cli import print_summary, run_scenario
from emulator.engine import REPO_ROOT, Emulator
from emulator.scenarios import SCENARIOS as EMULATOR_SCENARIOS
from emulator.scenarios.late_data import LateDataScenario as LateDataOnEmulator
from orderflow_ops.cli import parser
from orderflow_ops.scenarios import PipelineOutputs, ScenarioClients, ScenarioInputError
from orderflow_ops.scenarios.base import Scenario
from orderflow_ops.scenarios.late_data import Fed as LateDataFed
from orderflow_ops.scenarios.late_data import (
    LateDataScenario,
    PutEvent,
    TickFed,
    account,
    schedule_name,
    start_as_the_schedule,
    tick_details,
)
from orderflow_ops.smoke import Waiting, run
from orderflow_ops.stack import OUTPUT_PREFIX

SAMPLES = sorted((REPO_ROOT / "samples" / "validation").iterdir())
LATE_SEED = REPO_ROOT / "samples" / "late-data" / "seed-events.json"


@pytest.fixture(scope="module")
def deployed() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.deploy(REPO_ROOT, "dev")
        yield emulator


def emulator_ticks(emulator: Emulator) -> dict[str, Scenario]:
    """The late-data runner with the emulator's Scheduler firing its ticks: AWS's cannot be
    fired on demand, so on AWS a tick starts the sweep itself (`start_as_the_schedule`,
    pinned with a stub below); moto has no StartSyncExecution to run that here."""
    late_data = EMULATOR_SCENARIOS["late-data"]
    assert isinstance(late_data, LateDataOnEmulator)
    return {"late-data": late_data.runner(emulator)}


def smoke(
    emulator: Emulator,
    outputs: dict[str, object],
    tmp_path: Path,
    waiting: Waiting,
    *extra: str,
    scenarios: dict[str, Scenario] | None = None,
) -> tuple[int, str, str]:
    """`smoke` with its uploads under a prefix of this test's own (as each run has its own)."""
    path = tmp_path / "out.json"
    path.write_text(json.dumps(outputs))
    # moto answers every receive from the whole queue: no long poll needed (nor waited).
    argv = ["smoke", "--stack-outputs", str(path), "--wait-seconds", "0", *extra]
    args = parser().parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    stamp = tmp_path.name
    code = run(
        args,
        emulator.client,
        out,
        waiting=waiting,
        progress=err,
        stamp=stamp,
        scenarios=emulator_ticks(emulator) if scenarios is None else scenarios,
    )
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
    assert "late-data <- samples/late-data/seed-events.json (3 event(s), 1 tick(s))" in out
    assert out.count("result          OK") == len(SAMPLES) + 1
    # Progress: nothing accounted for right after the upload, everything once settled.
    assert "smoke: validation <- orders.jsonl: 0/" in err
    assert "record(s) accounted for after" in err
    # What is not run on AWS is said, with why.
    assert "smoke: premium: skipped, emulator only: " in err
    assert "smoke: consolidation: skipped, emulator only: feeding it needs a Kafka producer" in err


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


# late data ------------------------------------------------------------------------------
def test_smoke_prints_the_late_data_accounting_python_m_emulator_run_prints(
    deployed: Emulator, tmp_path: Path
) -> None:
    report, outcome = run_scenario(deployed, EMULATOR_SCENARIOS["late-data"], LATE_SEED)
    assert (outcome.records_in, outcome.problems) == (3, [])
    printed = io.StringIO()
    print_summary(report, outcome, LATE_SEED, printed)
    waiting = while_waiting_the_emulator_works(deployed)
    code, out, _ = smoke(
        deployed, deployed.stack.outputs, tmp_path, waiting, "--pipeline", "late-data"
    )
    assert code == 0, out
    size = 4 + len(outcome.reasons)
    emulator_block = printed.getvalue().splitlines()[1:size]
    lines = out.splitlines()
    header = next(i for i, x in enumerate(lines) if x.startswith("late-data <- samples/late-data"))
    assert lines[header + 1 : header + size] == emulator_block
    assert emulator_block[1:] == [
        "  stored          2",
        "  dead-lettered   1",
        "      negative_amount: 1",
    ]


def test_late_data_events_the_stack_never_handled_are_lost_not_guessed(
    deployed: Emulator, tmp_path: Path
) -> None:
    """Nothing runs (no idle between items, no tick, a clock that only moves): the events
    are in neither the ledger nor a DLQ, and smoke says so once the wait is over."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    stalled = LateDataScenario(tick=lambda clients, outputs: [], between=lambda: None)
    waiting = Waiting(timeout=20, poll_seconds=10, clock=lambda: now[0], sleep=sleep)
    code, out, err = smoke(
        deployed,
        deployed.stack.outputs,
        tmp_path,
        waiting,
        "--pipeline",
        "late-data",
        scenarios={"late-data": stalled},
    )
    assert code == 1
    assert "PROBLEM: not settled before the timeout" in out
    assert "event 2 (A1081): in neither the ledger nor a dead-letter queue: lost" in out
    assert "tick 3: no schedule occurrence fired" in out
    assert err.count("smoke: late-data <- seed-events.json:") == 3  # at 0, 10 and 20 s
    deployed.run_until_idle()  # let this test's events finish before the next test


def test_an_aws_tick_starts_the_schedule_s_target_with_its_input() -> None:
    """On AWS a tick reads the schedule (GetSchedule) and starts its target with its input;
    an Express sweep answers synchronously, so what it swept is reported."""
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/orderflow/late-data-sweep-1a2b"
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:late-data-workflow-1a2b"
    clients = stubbed_clients()
    scheduler, sfn = Stubber(clients.scheduler), Stubber(clients.sfn)
    scheduler.add_response(
        "get_schedule",
        {"Target": {"Arn": machine, "RoleArn": ROLE, "Input": '{"mode": "sweep"}'}},
        {"Name": "late-data-sweep-1a2b", "GroupName": "orderflow"},
    )
    sfn.add_response(
        "describe_state_machine",
        {**DESCRIBED, "stateMachineArn": machine, "type": "EXPRESS"},
        {"stateMachineArn": machine},
    )
    swept = {"pending": 2, "reconciled": 1, "published": 1, "failed": 0}
    sfn.add_response(
        "start_sync_execution",
        {
            "executionArn": machine.replace(":stateMachine:", ":express:") + ":x:y",
            "startDate": datetime(2026, 1, 1, tzinfo=UTC),
            "stopDate": datetime(2026, 1, 1, tzinfo=UTC),
            "status": "SUCCEEDED",
            "output": json.dumps({"mode": "sweep", "swept": {"result": swept}}),
        },
        {"stateMachineArn": machine, "input": '{"mode": "sweep"}'},
    )
    with scheduler, sfn:
        (sweep,) = start_as_the_schedule(clients, late_data_outputs(arn))
    scheduler.assert_no_pending_responses()
    sfn.assert_no_pending_responses()
    assert (sweep.delivered, sweep.status, sweep.swept) == (True, "SUCCEEDED", swept)
    (line,) = tick_details(TickFed(3, [sweep]))
    assert line.endswith("swept pending 2, reconciled 1, published 1, failed 0")


def test_an_aws_tick_aws_refuses_is_reported_not_raised() -> None:
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/sweep"
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:wf"
    clients = stubbed_clients()
    scheduler, sfn = Stubber(clients.scheduler), Stubber(clients.sfn)
    scheduler.add_response(
        "get_schedule",
        {"Target": {"Arn": machine, "RoleArn": ROLE, "Input": "{}"}},
        {"Name": "sweep", "GroupName": "default"},
    )
    sfn.add_response(
        "describe_state_machine",
        {**DESCRIBED, "stateMachineArn": machine, "type": "EXPRESS"},
        {"stateMachineArn": machine},
    )
    sfn.add_client_error("start_sync_execution", "AccessDeniedException", "not allowed")
    with scheduler, sfn:
        (sweep,) = start_as_the_schedule(clients, late_data_outputs(arn))
    assert (sweep.delivered, sweep.error) == (False, "AccessDeniedException")
    lines = tick_details(TickFed(0, [sweep]))
    assert lines[1].endswith(": not started (AccessDeniedException)")


def test_an_aws_tick_on_a_standard_workflow_starts_it_and_waits_for_its_end() -> None:
    """StartSyncExecution is for Express workflows only: a Standard sweep is started and
    described until it is no longer running."""
    arn = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/sweep"
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:wf"
    execution = "arn:aws:states:us-east-1:123456789012:execution:wf:run-1"
    clients = stubbed_clients()
    scheduler, sfn = Stubber(clients.scheduler), Stubber(clients.sfn)
    scheduler.add_response(
        "get_schedule",
        {"Target": {"Arn": machine, "RoleArn": ROLE, "Input": '{"mode": "sweep"}'}},
        {"Name": "sweep", "GroupName": "default"},
    )
    sfn.add_response(
        "describe_state_machine",
        {**DESCRIBED, "stateMachineArn": machine, "type": "STANDARD"},
        {"stateMachineArn": machine},
    )
    started = datetime(2026, 1, 1, tzinfo=UTC)
    sfn.add_response(
        "start_execution",
        {"executionArn": execution, "startDate": started},
        {"stateMachineArn": machine, "input": '{"mode": "sweep"}'},
    )
    sfn.add_response(
        "describe_execution",
        {
            "executionArn": execution,
            "stateMachineArn": machine,
            "status": "FAILED",
            "startDate": started,
        },
        {"executionArn": execution},
    )
    with scheduler, sfn:
        (sweep,) = start_as_the_schedule(clients, late_data_outputs(arn))
    sfn.assert_no_pending_responses()
    assert (sweep.delivered, sweep.status, sweep.swept) == (True, "FAILED", None)
    assert tick_details(TickFed(0, [sweep]))[1].endswith(": sweep execution FAILED")


ROLE = "arn:aws:iam::123456789012:role/scheduler"
DESCRIBED = {
    "name": "wf",
    "definition": "{}",
    "roleArn": ROLE,
    "creationDate": datetime(2026, 1, 1, tzinfo=UTC),
}


def stubbed_clients() -> ScenarioClients:
    def make(service: str) -> object:
        return boto3.client(
            service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )

    return ScenarioClients.using(make)


def late_data_outputs(schedule_arn: str) -> PipelineOutputs:
    return PipelineOutputs("late-data", {"lateDataScheduleArn": schedule_arn})


def test_a_schedule_arn_that_is_not_one_is_refused_clearly() -> None:
    with pytest.raises(ScenarioInputError, match="is not a schedule ARN"):
        schedule_name("arn:aws:states:us-east-1:123456789012:stateMachine:wf")


def _ledger(**entry: object) -> list[dict[str, object]]:
    late = {"pk": "LATE#A1", "firstSeenEventId": "e1", "businessDay": "2026-01-01", "amount": 5}
    day = {"pk": "DAY#2026-01-01", "orderCount": 1, "amount": 5}
    return [{**late, **entry}, day]


def _fed() -> LateDataFed:
    event = PutEvent(0, {"detail": {"orderId": "A1"}}, event_id="e1")
    return LateDataFed([event], [])


def test_late_data_accounting_reads_publication_from_the_ledger_outbox() -> None:
    published = account(_fed(), _ledger(status="reconciled", publishedEventId="p1"), [], [])
    assert (published.stored, published.problems) == (1, [])
    assert published.details == [
        "event 0 (A1): reconciled into DAY#2026-01-01, OrderReconciled published once"
    ]
    unpublished = account(_fed(), _ledger(status="reconciled"), [], [])
    assert unpublished.problems == ["event 0 (A1): reconciled but no OrderReconciled published"]
    deferral = {"reason": "reconcile_deferred", "source": {"ledgerKey": "LATE#A1"}}
    waiting = account(_fed(), _ledger(status="reconciled"), [deferral], [])
    assert waiting.problems == []
    assert "waiting in the outbox" in waiting.details[0]


def test_late_data_accounting_names_what_does_not_add_up() -> None:
    flagged = account(_fed(), _ledger(status="flagged")[:1], [], [])
    assert flagged.problems == ["event 0 (A1): flagged, not reconciled (yet)"]
    assert not flagged.settled
    wrong_day = _ledger(status="reconciled", publishedEventId="p1")
    wrong_day[1]["amount"] = 6
    assert account(_fed(), wrong_day, [], []).problems == [
        "DAY#2026-01-01: aggregate (1, Decimal('6')) but reconciled entries sum to "
        "(1, Decimal('5'))"
    ]
    letter = {"reason": "negative_amount", "source": {"eventId": "e1"}}
    rejected = account(_fed(), [], [letter], [])
    assert (rejected.dead_lettered, dict(rejected.reasons), rejected.problems) == (
        1,
        {"negative_amount": 1},
        [],
    )
    undelivered = account(_fed(), [], [], [{"id": "e1"}])
    assert dict(undelivered.reasons) == {"undelivered_event": 1}
    duplicate = account(_fed(), _ledger(status="reconciled", firstSeenEventId="e0"), [], [])
    assert duplicate.stored == 1
    assert "duplicate of the entry first seen as event e0" in duplicate.details[0]
