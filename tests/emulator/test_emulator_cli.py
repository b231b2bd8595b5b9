"""`python -m emulator up | run | demo`: the contract of DESIGN.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from emulator_support import SEED_FILE

from emulator.cli import main

pytestmark = pytest.mark.e2e

REPORT_KEYS = {
    "pipeline",
    "tables",
    "queues",
    "events",
    "executions",
    "invocations",
    "iam_denied",
    "errors",
}


def test_run_json_prints_one_object_with_the_contract_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "validation", str(SEED_FILE), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)  # exactly one JSON document, nothing else on stdout
    assert set(report) == REPORT_KEYS
    assert report["pipeline"] == "validation"
    assert set(report["tables"]) == {"validation-orders"}
    assert set(report["queues"]) == {"validation-dlq", "validation-delivery-dlq"}
    assert [item["orderId"] for item in report["tables"]["validation-orders"]] == ["1"]
    (letter,) = report["queues"]["validation-dlq"]
    assert letter["reason"] == "missing_contact_info"
    assert report["invocations"] == {"validation-inspect": 1, "validation-validate": 1}
    assert [(set(e), e["status"]) for e in report["executions"]] == [
        ({"name", "status"}, "SUCCEEDED")
    ]
    assert report["iam_denied"] == []
    assert report["errors"] == []


def test_run_interleave_seed_runs_the_same_pipeline_interleaved(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "validation", str(SEED_FILE), "--json", "--interleave", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == REPORT_KEYS
    assert [item["orderId"] for item in report["tables"]["validation-orders"]] == ["1"]
    assert [letter["reason"] for letter in report["queues"]["validation-dlq"]] == [
        "missing_contact_info"
    ]
    assert report["errors"] == []


def test_interleave_takes_an_integer_seed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "validation", str(SEED_FILE), "--interleave", "many"])
    assert exit_.value.code == 2
    assert "--interleave" in capsys.readouterr().err


def test_an_input_of_the_wrong_shape_exits_2_saying_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The validation sample is a sales file, not a list of late-data events and ticks.
    assert main(["run", "late-data", str(SEED_FILE), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "expected a JSON list of event and tick items" in captured.err


def test_an_unknown_pipeline_is_refused_naming_those_that_exist(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "billing", str(SEED_FILE)])
    assert exited.value.code == 2
    assert "validation" in capsys.readouterr().err


def test_a_missing_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "validation", str(tmp_path / "nope.json")]) == 2
    assert "no input file" in capsys.readouterr().err


def test_up_lists_resources_under_their_components(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "+ orderflow:index:ValidationPipeline validation" in lines
    assert any(
        line.startswith("    + aws:sqs/queue:Queue") and "validation-dlq-" in line for line in lines
    )
    assert "resources created in the emulator" in lines[-1]


def test_demo_runs_the_seed_scenario_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "validation <- samples/validation/mock-data.json" in out
    assert "missing_contact_info: 1" in out
    assert "every record accounted for" in out
