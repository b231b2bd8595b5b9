"""The seed's local run (`python -m runtime.consolidation test_event.json`) and the samples."""

from __future__ import annotations

import base64
import csv
import fnmatch
import io
import json
from typing import Any

import pytest
from consolidation_support import (
    SAMPLES,
    SEED_MESSAGE,
    ConsolidationAws,
    FakeLambdaContext,
    kafka_event,
    kafka_record,
)

from runtime.consolidation import handler
from runtime.consolidation.__main__ import main
from runtime.consolidation.schema import (
    ConsolidationEvent,
    is_allowed_location,
    parse_allowed_prefixes,
    parse_event,
)

# The seed README's test_event.json value, character for character.
SEED_VALUE = (
    "eyJldmVudF90eXBlIjoiY29uc29saWRhdGlvbl9jb21wbGV0ZWQiLCJwYXJ0aXRpb25fZGF0ZSI6IjIwMjUtMTEtMjAi"
    "LCJleGVjdXRpb25fc2VxdWVuY2UiOjIsInRvdGFsX2V4ZWN1dGlvbnMiOjQsInJlY29yZHNfcHJvY2Vzc2VkIjoxMjUw"
    "MDAwLCJkdXBsaWNhdGVzX3JlbW92ZWQiOjE1MCwib3V0cHV0X2ZpbGVzIjoxMCwib3V0cHV0X2Zvcm1hdCI6ImNzdiIs"
    "Im91dHB1dF9wYXRoIjoiczM6Ly9idWNrZXQvY29uc29saWRhdGVkL2NoYXJnZWJhY2tzL3llYXI9MjAyNS9tb250aD0x"
    "MS9kYXk9MjAiLCJleGVjdXRpb25fdGltZSI6IjIwMjUtMTEtMjBUMDY6MzA6MDAiLCJjb21wbGV0ZWRfYXQiOiIyMDI1"
    "LTExLTIwVDA2OjQ1OjMyLjEyMzQ1NiswMDowMCIsImpvYl9uYW1lIjoicG9jLWNoYXJnZWJhY2stZGV2LWNoYXJnZWJh"
    "Y2tzLWNvbnNvbGlkYXRpb24ifQ=="
)
SCENARIO_PREFIX = "s3://orderflow-consolidated/consolidated/chargebacks/"


def test_test_event_is_the_seeds() -> None:
    event = json.loads((SAMPLES / "test_event.json").read_text())
    [record] = event["records"]["chargeback-consolidation-events-0"]
    assert record["value"] == SEED_VALUE
    assert json.loads(base64.b64decode(SEED_VALUE)) == SEED_MESSAGE


def test_running_the_module_on_the_seed_event_prints_the_response(
    cons_aws: ConsolidationAws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(SAMPLES / "test_event.json")]) == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last_line) == {"batchItemFailures": []}
    assert len(cons_aws.executions()) == 1
    assert len(cons_aws.ledger()) == 1


def test_running_the_module_on_an_updater_batch(
    cons_aws: ConsolidationAws, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    main([str(SAMPLES / "test_event.json")])
    [execution] = cons_aws.executions()
    cons_aws.put_chargebacks(["CB-1"])
    batch = tmp_path / "batch.json"
    batch.write_text(
        json.dumps(
            {
                "Items": [{"chargeback_id": "CB-1"}],
                "BatchInput": {"consolidation": execution["input"]["consolidation"], "file": "k"},
            }
        )
    )
    capsys.readouterr()
    assert main(["--handler", "apply_updates", str(batch)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["updated"] == 1


@pytest.mark.parametrize(
    ("raw", "level"),
    [("WARN", "WARNING"), ("debug", "DEBUG"), ("ERROR", "ERROR"), ("", "INFO"), ("loud", "INFO")],
)
def test_the_seeds_log_levels(monkeypatch: pytest.MonkeyPatch, raw: str, level: str) -> None:
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    monkeypatch.setenv("LOG_LEVEL", raw)
    assert handler._log_level() == level


def test_the_seed_scenario_runs_through_both_handlers(cons_aws: ConsolidationAws) -> None:
    """What the emulator does with seed-scenario.json, done by hand: every chargeback updated."""
    scenario = json.loads((SAMPLES / "seed-scenario.json").read_text())
    ids = [item["chargeback_id"] for item in scenario["chargebacks"]]
    assert len(ids) == 20
    assert all(set(item) == {"chargeback_id", "created_at"} for item in scenario["chargebacks"])
    [value] = scenario["messages"]
    event = parse_event(value)
    assert isinstance(event, ConsolidationEvent)
    assert is_allowed_location(event.output_path, parse_allowed_prefixes(SCENARIO_PREFIX))
    assert any(key.endswith("/_SUCCESS") for key in scenario["objects"])

    cons_aws.put_chargebacks(ids)
    response = handler.consume(kafka_event([kafka_record(value, offset=0)]), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    [execution] = cons_aws.executions()
    workflow_input = execution["input"]

    # ForEachFile lists the prefix; RouteByFormat keeps `*.csv` files; the CSV reader yields rows.
    applied = 0
    for uri, text in scenario["objects"].items():
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        assert bucket == workflow_input["bucket"]
        assert key.startswith(workflow_input["prefix"])
        if not fnmatch.fnmatchcase(key, "*.csv"):
            continue
        rows = list(csv.DictReader(io.StringIO(text)))
        result = handler.apply_updates(
            {
                "Items": rows,
                "BatchInput": {"consolidation": workflow_input["consolidation"], "file": key},
            },
            FakeLambdaContext(),
        )
        applied += result["updated"]
    assert applied == 20
    items = cons_aws.chargebacks()
    assert {item["consolidation_status"] for item in items.values()} == {"completed"}
    assert {item["consolidation_s3_path"] for item in items.values()} == {event.output_path}
    assert cons_aws.dead_letters() == []


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_running_the_module_without_settings_explains_what_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([str(SAMPLES / "test_event.json")]) == 1
    assert "CONSOLIDATIONS_TABLE_NAME is not set" in capsys.readouterr().err
