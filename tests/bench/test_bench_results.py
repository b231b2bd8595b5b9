"""results.json's shape (when `make bench` has written it) and the README generated from it.

Shapes only: no test asserts a timing or a price a run produced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report, runner, workloads
from bench.pricing import SERVICES

PIPELINES = ("validation", "premium", "late-data", "consolidation")
ENTRY_KEYS = {"records", "cost_per_million_usd", "seed_cost_per_million_usd", "breakdown"}
# Lines the meter started pricing after the committed results.json was measured: until
# `make bench` measures again, that file has no figure for them (the README says n/a).
PRICED_SINCE_LAST_RUN = {"sns", "cloudwatch_logs"}


def check_shape(results: dict[str, Any]) -> None:
    for pipeline in PIPELINES:
        entry = results[pipeline]
        assert set(entry) == ENTRY_KEYS, pipeline
        status = results["status"][pipeline]
        if status == "measured":
            assert isinstance(entry["records"], int)
            assert entry["records"] >= 10_000
            assert isinstance(entry["cost_per_million_usd"], float | int)
            assert set(SERVICES) - PRICED_SINCE_LAST_RUN <= set(entry["breakdown"])
            assert set(entry["breakdown"]) <= set(SERVICES)
            assert sum(entry["breakdown"].values()) == pytest.approx(
                entry["cost_per_million_usd"], abs=1e-4
            )
        else:
            assert status.startswith("not available: "), status
            assert entry["cost_per_million_usd"] is None
        seed = entry["seed_cost_per_million_usd"]
        assert seed is None or isinstance(seed, float | int)
        assert "seed_over_ours" in results["comparison"][pipeline]
    for key in ("throughput", "cold_start", "consolidation_scale", "demo", "machine"):
        assert key in results


def _fake_tasks() -> dict[str, dict[str, Any]]:
    measured = {
        "status": "measured",
        "records": 20_000,
        "cost_per_million_usd": 0.6,
        "breakdown_per_million_usd": dict.fromkeys(SERVICES, 0.0) | {"dynamodb_writes": 0.6},
        "usage": {"lambda_requests": 21, "pipes_requests": 0},
        "details": {},
        "notes": ["a note"],
    }
    seed = {**measured, "cost_per_million_usd": 50.0, "notes": []}
    return {
        "pipeline:validation": measured,
        "seed:validation": seed,
        "pipeline:premium": {"status": "not available: no scenario"},
        "seed:premium": seed,
        "seed:late-data": seed,
        "seed:consolidation": seed,
        "throughput:consolidation": {
            "status": "measured",
            "handlers": {
                "consolidation.updater_worker": {
                    "moto_ms_per_update_one_worker": 4.0,
                    "moto_updates_per_second_one_worker": 250.0,
                    "moto_updates_per_second_16_threads": 300.0,
                    "client_cpu_ms_per_update": 0.4,
                }
            },
        },
    }


def test_assembled_results_have_the_required_shape_and_render() -> None:
    results = runner.assemble(_fake_tasks(), started=0.0)
    check_shape(results)
    assert results["comparison"]["validation"]["seed_over_ours"] == pytest.approx(83.3)
    targets = results["comparison"]["validation"]["targets"]
    assert [t["met"] for t in targets] == [True, True]
    assert results["status"]["late-data"] == runner.NOT_RUN
    text = report.readme(results)
    assert "make bench" in text
    assert "not available: no scenario" in text
    assert "validation" in report.table(results)


def test_results_json_when_present() -> None:
    path = runner.RESULTS
    if not path.exists():
        pytest.skip("bench/results.json is written by `make bench`")
    check_shape(json.loads(path.read_text()))
    assert Path(runner.README).exists()


def test_workloads_are_deterministic_and_sized() -> None:
    sales = workloads.sales_records(1_000)
    assert sales.records == workloads.sales_records(1_000).records
    assert sum(sales.kinds.values()) == 1_000
    assert 0.8 < sales.valid / 1_000 < 0.95
    assert json.loads(sales.file_bytes())["orders"] == sales.records
    stream = workloads.order_changes(100)
    assert len(stream.stream_records) == len(stream.writes) > 100
    names = {r["eventName"] for r in stream.stream_records}
    assert names == {"INSERT", "MODIFY", "REMOVE"}
    late = workloads.late_events(50)
    assert len(late) == 51
    assert late[-1] == {"tick": "schedule"}
    data = workloads.consolidation_input(100, files=4)
    rows = sum(text.count("\n") - 1 for text in data["objects"].values() if text)
    assert rows == 100
    assert len(data["objects"]) == 5  # four parts and the _SUCCESS marker
