"""ConsolidationConsumer end to end: Kafka message → consumer → fan-out → every chargeback.

One dev-stack deployment for the module; every test uses its own partition date, output
path and chargeback ids, so the tests are independent of each other's order.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from emulator_support import ROOT

from emulator.cli import run_scenario
from emulator.engine import Emulator
from emulator.report import table_items
from emulator.scenarios import SCENARIOS
from emulator.scenarios.base import Outcome, ScenarioInputError
from emulator.scenarios.consolidation import expected_attributes, read_input
from runtime.consolidation.schema import order_key

pytestmark = pytest.mark.e2e

SCENARIO = SCENARIOS["consolidation"]
SEED = ROOT / "samples" / "consolidation" / "seed-scenario.json"
BUCKET = "orderflow-consolidated"
BASE = f"s3://{BUCKET}/consolidated/chargebacks"
BIG = 20_000
FILES = 4


def event(date: str, sequence: int = 1, fmt: str = "csv", **changes: Any) -> dict[str, Any]:
    """A valid consolidation_completed event for the partition of `date`."""
    year, month, day = date.split("-")
    return {
        "event_type": "consolidation_completed",
        "partition_date": date,
        "execution_sequence": sequence,
        "total_executions": max(sequence, 4),
        "records_processed": 10,
        "duplicates_removed": 0,
        "output_files": 1,
        "output_format": fmt,
        "output_path": f"{BASE}/year={year}/month={month}/day={day}",
        "execution_time": f"{date}T06:30:00",
        "completed_at": f"{date}T06:45:32+00:00",
        "job_name": "poc-chargeback-dev-chargebacks-consolidation",
        **changes,
    }


def files(prefix: str, ids: list[str], fmt: str, parts: int = 1) -> dict[str, str]:
    """`ids` split over `parts` consolidated files plus the `_SUCCESS` marker."""
    size = -(-len(ids) // parts)
    objects: dict[str, str] = {}
    for part in range(parts):
        chunk = ids[part * size : (part + 1) * size]
        if fmt == "csv":
            body = "chargeback_id,amount\n" + "".join(f"{i},12.50\n" for i in chunk)
        else:
            body = "".join(json.dumps({"chargeback_id": i, "amount": 12.5}) + "\n" for i in chunk)
        objects[f"{prefix}/part-{part:04d}.{fmt}"] = body
    objects[f"{prefix}/_SUCCESS"] = ""
    return objects


def chargebacks(prefix: str, count: int) -> list[dict[str, Any]]:
    return [{"chargeback_id": f"{prefix}-{n:06d}", "status": "open"} for n in range(count)]


def run(
    dev: Emulator, tmp_path: Path, data: dict[str, Any], name: str = "input.json"
) -> tuple[dict[str, Any], Outcome]:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return run_scenario(dev, SCENARIO, path)


def clean(report: dict[str, Any], outcome: Outcome) -> None:
    assert outcome.problems == []
    assert report["iam_denied"] == []
    assert report["errors"] == []
    assert all(e["status"] == "SUCCEEDED" for e in report["executions"])


def rows(report: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {
        item["chargeback_id"]: item
        for item in report["tables"]["consolidation-chargebacks"]
        if item["chargeback_id"].startswith(prefix)
    }


def at(item: dict[str, Any], message: dict[str, Any]) -> bool:
    """The chargeback carries exactly what `message` consolidates."""
    return all(item.get(k) == v for k, v in expected_attributes(message).items())


def letters_at(report: dict[str, Any], offsets: set[int]) -> dict[int, dict[str, Any]]:
    return {
        letter["source"]["offset"]: letter
        for letter in report["queues"]["consolidation-dlq"]
        if isinstance(letter, dict) and letter.get("source", {}).get("offset") in offsets
    }


def consolidation_run(
    dev: Emulator, tmp_path: Path, ids_prefix: str, message: dict[str, Any], *, count: int
) -> tuple[dict[str, Any], Outcome]:
    """`count` chargebacks listed in one file of the message's format, and the message."""
    fmt = message["output_format"]
    path = message["output_path"]
    data = {
        "chargebacks": chargebacks(ids_prefix, count),
        "objects": files(path, [f"{ids_prefix}-{n:06d}" for n in range(count)], fmt),
        "messages": [message],
    }
    return run(dev, tmp_path, data)


@contextmanager
def without_action(dev: Emulator, policy: str, action: str) -> Iterator[None]:
    """Remove `action` from the inline RolePolicy `policy` for the block (as `pulumi up` would)."""
    state = dev.stack.one("aws:iam/rolePolicy:RolePolicy", policy).state
    iam = dev.client("iam")
    original = iam.get_role_policy(RoleName=state["role"], PolicyName=state["name"])[
        "PolicyDocument"
    ]
    document = json.loads(json.dumps(original))
    for statement in document["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        statement["Action"] = [a for a in actions if a != action] or ["none:NoAction"]
    iam.put_role_policy(
        RoleName=state["role"], PolicyName=state["name"], PolicyDocument=json.dumps(document)
    )
    try:
        yield
    finally:
        iam.put_role_policy(
            RoleName=state["role"], PolicyName=state["name"], PolicyDocument=json.dumps(original)
        )


# --- the seed ------------------------------------------------------------------------------


def test_the_seed_scenario_updates_all_20_chargebacks_with_the_seed_attributes(
    dev: Emulator,
) -> None:
    report, outcome = run_scenario(dev, SCENARIO, SEED)
    clean(report, outcome)
    seed = json.loads(SEED.read_text())
    (message,) = seed["messages"]
    updated = rows(report, "CB-20251120-")
    assert len(updated) == 20
    for item in updated.values():
        assert at(item, message)
        assert item["consolidation_order"].startswith("2025-11-20#000000002#")
        assert item["created_at"].startswith("2025-11-20T05:")  # the rest of the item is kept
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (1, 1, 0)
    assert [e["status"] for e in report["executions"]] == ["SUCCEEDED"]
    assert report["invocations"] == {"consolidation-consumer": 1, "consolidation-updater": 1}
    assert report["events"] == []
    assert report["queues"] == {"consolidation-dlq": []}
    (ledger,) = [
        i
        for i in report["tables"]["consolidation-consolidations"]
        if i["consolidation_order"].startswith("2025-11-20#000000002#")
    ]
    assert ledger["execution_name"] == report["executions"][0]["name"]
    assert json.loads(ledger["source"])["topic"] == "chargeback-consolidation-events"


def test_the_run_is_metered(dev: Emulator) -> None:
    meter = dev.meter
    assert sum(meter.kafka_records_polled.values()) >= 1
    assert meter.lambda_requests
    assert all(v > 0 for v in meter.lambda_gb_seconds.values())
    assert sum(meter.express_requests.values()) >= 1  # EXPRESS grandchildren of the file map
    assert sum(meter.state_transitions.values()) > 0


# --- volume --------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "date"), [("json", "2025-12-01"), ("csv", "2025-12-02")])
def test_20000_chargebacks_are_consolidated_from_files_split_over_a_prefix(
    dev: Emulator, tmp_path: Path, fmt: str, date: str
) -> None:
    message = event(date, fmt=fmt, records_processed=BIG, output_files=FILES)
    ids = [f"BIG-{fmt}-{n:06d}" for n in range(BIG)]
    data = {
        "chargebacks": chargebacks(f"BIG-{fmt}", BIG),
        "objects": files(message["output_path"], ids, fmt, parts=FILES),
        "messages": [message],
    }
    express = sum(dev.meter.express_requests.values())
    started = time.perf_counter()
    report, outcome = run(dev, tmp_path, data)
    elapsed = time.perf_counter() - started
    clean(report, outcome)
    updated = rows(report, f"BIG-{fmt}-")
    assert len(updated) == BIG
    assert all(at(item, message) for item in updated.values())
    assert f"{BIG} of {BIG} listed carry their consolidation" in outcome.details[1]
    assert report["invocations"]["consolidation-updater"] == BIG // 500
    assert sum(dev.meter.express_requests.values()) - express == BIG // 500
    print(f"{BIG} chargebacks from {fmt}: {elapsed:.1f} s")


def test_a_fan_out_whose_collected_results_pass_256_kib_succeeds(
    dev: Emulator, tmp_path: Path
) -> None:
    """The file map's children return about half a KiB each: held in state, the results of
    a prefix of 800 files would pass 256 KiB and fail the Map (States.DataLimitExceeded,
    even with ResultPath null). Exported by a ResultWriter, any number of files is fine."""
    message = event("2025-12-20")
    ids = [f"WIDE-{n:06d}" for n in range(20)]
    objects = files(message["output_path"], ids, "csv")
    objects |= {f"{message['output_path']}/_crc/part-{n:04d}.crc": "" for n in range(800)}
    data = {"chargebacks": chargebacks("WIDE", 20), "objects": objects, "messages": [message]}
    failures = dev.stack.output_of("aws:s3/bucket:Bucket", "consolidation-failures", "bucket")
    s3 = dev.client("s3")
    listed = s3.list_objects_v2(Bucket=failures, Prefix="orderflow-work/map-results/ForEachFile/")
    before = {o["Key"] for o in listed.get("Contents", [])}
    report, outcome = run(dev, tmp_path, data)
    clean(report, outcome)
    assert len(rows(report, "WIDE-")) == 20
    assert all(at(item, message) for item in rows(report, "WIDE-").values())
    listed = s3.list_objects_v2(Bucket=failures, Prefix="orderflow-work/map-results/ForEachFile/")
    (manifest,) = [
        o["Key"]
        for o in listed.get("Contents", [])
        if o["Key"] not in before and o["Key"].endswith("/manifest.json")
    ]
    exported = json.loads(s3.get_object(Bucket=failures, Key=manifest)["Body"].read())
    assert exported["ResultFiles"]["FAILED"] == []
    (succeeded,) = exported["ResultFiles"]["SUCCEEDED"]
    children = json.loads(s3.get_object(Bucket=failures, Key=succeeded["Key"])["Body"].read())
    assert len(children) == len(objects)  # every listed object ran one child
    in_state = json.dumps([json.loads(c["Output"]) for c in children], separators=(",", ":"))
    assert len(in_state.encode()) > 256 * 1024


# --- idempotency and order -----------------------------------------------------------------


def test_a_replayed_message_changes_nothing(dev: Emulator, tmp_path: Path) -> None:
    message = event("2025-12-10")
    first, outcome = consolidation_run(dev, tmp_path, "REPLAY", message, count=30)
    clean(first, outcome)
    before = rows(first, "REPLAY-")
    ledger = first["tables"]["consolidation-consolidations"]

    report, outcome = run(
        dev, tmp_path, {"chargebacks": [], "objects": {}, "messages": [message]}, "replay.json"
    )
    clean(report, outcome)
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (1, 1, 0)
    assert "1 replayed one" in outcome.details[0]
    assert report["executions"] == []  # no second fan-out
    assert rows(report, "REPLAY-") == before  # updated_at included
    assert report["tables"]["consolidation-consolidations"] == ledger
    assert report["invocations"] == {"consolidation-consumer": 1, "consolidation-updater": 0}


def test_an_older_sequence_after_a_newer_one_changes_nothing(dev: Emulator, tmp_path: Path) -> None:
    newer = event("2025-12-11", sequence=5, fmt="json")
    first, outcome = consolidation_run(dev, tmp_path, "ORDER", newer, count=25)
    clean(first, outcome)
    before = rows(first, "ORDER-")
    assert all(at(item, newer) for item in before.values())

    older = event("2025-12-11", 3, "json", completed_at="2025-12-11T05:00:00+00:00")
    report, outcome = run(
        dev, tmp_path, {"chargebacks": [], "objects": {}, "messages": [older]}, "older.json"
    )
    clean(report, outcome)
    assert "1 started a consolidation" in outcome.details[0]
    assert [e["status"] for e in report["executions"]] == ["SUCCEEDED"]
    assert report["invocations"]["consolidation-updater"] == 1
    assert rows(report, "ORDER-") == before


# --- poison --------------------------------------------------------------------------------


def test_poison_messages_are_dead_lettered_and_good_ones_in_the_same_batch_applied(
    dev: Emulator, tmp_path: Path
) -> None:
    good = event("2025-12-12")
    schema_violation = {**event("2025-12-13"), "execution_sequence": "two"}
    del schema_violation["job_name"]
    garbage = "%%%this is not JSON, nor base64 of anything%%%"
    mapping = SCENARIO.mapping(dev)  # type: ignore[attr-defined]
    cluster, topic = mapping.config.cluster_arn, mapping.config.topic
    dev.kafka.create_topic(cluster, topic)
    # A value that is not UTF-8 (the scenario input format holds text only).
    binary = dev.kafka.produce(cluster, topic, b"\xff\xfe\x00bin")
    data = {
        "chargebacks": chargebacks("POISON", 10),
        "objects": files(good["output_path"], [f"POISON-{n:06d}" for n in range(10)], "csv"),
        "messages": [good, garbage, schema_violation],
    }
    report, outcome = run(dev, tmp_path, data)

    assert outcome.problems == []
    assert report["iam_denied"] == []
    assert report["errors"] == []
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (3, 1, 2)
    assert report["invocations"]["consolidation-consumer"] == 1  # one batch for all four
    assert all(at(item, good) for item in rows(report, "POISON-").values())
    letters = letters_at(report, {binary.offset, binary.offset + 2, binary.offset + 3})
    assert letters[binary.offset]["reason"] == "invalid_utf8"
    assert base64.b64decode(letters[binary.offset]["record"]["value"]) == b"\xff\xfe\x00bin"
    assert letters[binary.offset + 2]["reason"] == "invalid_json"
    assert base64.b64decode(letters[binary.offset + 2]["record"]["value"]).decode() == garbage
    violation = letters[binary.offset + 3]
    assert violation["reason"] in ("invalid_field", "missing_field")
    assert "execution_sequence" in violation["message"]
    assert "job_name" in violation["message"]
    assert json.loads(base64.b64decode(violation["record"]["value"])) == schema_violation
    assert all(letter["source"]["topic"] == mapping.config.topic for letter in letters.values())


# --- permissions ---------------------------------------------------------------------------


def test_without_read_data_the_mapping_is_denied_and_the_messages_wait_on_the_topic(
    dev: Emulator, tmp_path: Path
) -> None:
    message = event("2025-12-14")
    mapping = SCENARIO.mapping(dev)  # type: ignore[attr-defined]
    topic_arn = (
        mapping.config.cluster_arn.replace(":cluster/", ":topic/") + "/" + mapping.config.topic
    )
    with without_action(dev, "consolidation-consumer-policy", "kafka-cluster:ReadData"):
        report, outcome = consolidation_run(dev, tmp_path, "DENIED", message, count=5)
    assert {"action": "kafka-cluster:ReadData", "resource": topic_arn}.items() <= report[
        "iam_denied"
    ][0].items()
    assert report["invocations"]["consolidation-consumer"] == 0
    assert any("kafka-cluster:ReadData" in e.get("message", "") for e in report["errors"])
    assert len(outcome.problems) == 1
    assert "still on the topic" in outcome.problems[0]
    assert not any(at(item, message) for item in rows(report, "DENIED-").values())

    # Nothing was lost: with the permission back, the mapping reads the message.
    dev.run_until_idle()
    assert mapping.lag() == 0
    table = dev.stack.one("aws:dynamodb/table:Table", "consolidation-chargebacks").state["name"]
    now = rows({"tables": {"consolidation-chargebacks": table_items(table)}}, "DENIED-")
    assert len(now) == 5
    assert all(at(item, message) for item in now.values())


@pytest.mark.parametrize("action", ["s3:PutObject", "s3:ListMultipartUploadParts"])
def test_a_fan_out_without_a_result_writer_permission_fails_saying_which(
    dev: Emulator, tmp_path: Path, action: str
) -> None:
    """AWS lists four actions a ResultWriter needs on the export; the emulator asks for
    every one (not just the PutObject it makes), so a missing one fails here too."""
    message = event("2025-12-21" if action == "s3:PutObject" else "2025-12-22")
    with without_action(dev, "consolidation-fanout-policy", action):
        report, _ = consolidation_run(dev, tmp_path, f"NOEXPORT-{action[3:7]}", message, count=3)
    denied = [d for d in report["iam_denied"] if d["action"] == action]
    assert denied
    assert "/orderflow-work/map-results/" in denied[0]["resource"]
    assert "FAILED" in {e["status"] for e in report["executions"]}


def test_the_fan_out_may_list_only_the_allowed_prefix(dev: Emulator) -> None:
    """The workflow's s3:ListBucket is conditioned on s3:prefix, as the component scopes it."""
    machine = dev.stack.one("aws:sfn/stateMachine:StateMachine", "consolidation-fanout")
    dev.client("s3").put_object(Bucket=BUCKET, Key="elsewhere/part-0000.csv", Body=b"x\n")
    attributes = {
        "consolidation_status": "completed",
        "consolidation_s3_path": f"s3://{BUCKET}/elsewhere",
        "consolidation_date": "2025-12-15T00:00:00+00:00",
        "consolidation_execution": 1,
        "consolidation_job_name": "j",
        "output_format": "csv",
        "records_in_consolidation": 1,
        "consolidation_order": order_key("j", "2025-12-15", 1, f"s3://{BUCKET}/elsewhere"),
    }
    denied = len(dev.guard.denials)
    dev.client("stepfunctions").start_execution(
        stateMachineArn=machine.state["arn"],
        name="outside-the-allowed-prefix",
        input=json.dumps(
            {"bucket": BUCKET, "prefix": "elsewhere/", "format": "csv", "consolidation": attributes}
        ),
    )
    dev.run_until_idle()
    (execution,) = [e for e in dev.states.executions if e.name == "outside-the-allowed-prefix"]
    assert execution.status == "FAILED"
    assert execution.error == "States.ItemReaderFailed"
    assert "AccessDenied" in str(execution.cause)
    (denial,) = dev.guard.denials[denied:]
    assert (denial.action, denial.resource) == ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")


def test_parquet_files_fail_naming_the_missing_dependency(dev: Emulator, tmp_path: Path) -> None:
    message = event("2025-12-16", fmt="parquet")
    data = {
        "chargebacks": chargebacks("PARQUET", 1),
        "objects": {f"{message['output_path']}/part-0000.parquet": "PAR1 not decodable PAR1"},
        "messages": [message],
    }
    report, _ = run(dev, tmp_path, data)
    assert [e["status"] for e in report["executions"]] == ["FAILED"]
    (failure,) = [e for e in report["errors"] if e["kind"] == "execution"]
    assert "States.ItemReaderFailed" in failure["cause"]
    assert "pyarrow" in failure["cause"]


# --- what the mapping gives up on ------------------------------------------------------------


def test_a_record_older_than_the_maximum_age_is_kept_in_the_failure_bucket(
    dev: Emulator,
) -> None:
    """Not invoked; written to the on-failure bucket as the function's role.

    AWS requires s3:ListBucket on the destination as well as s3:PutObject; the component
    grants both, so the record is kept with the documented invocation record.
    """
    mapping = SCENARIO.mapping(dev)  # type: ignore[attr-defined]
    cluster, topic = mapping.config.cluster_arn, mapping.config.topic
    dev.kafka.create_topic(cluster, topic)
    old_ms = int((dev.clock.now() - 7 * 3600) * 1000)  # the mapping's limit is 6 hours
    invocations = len(dev.lambdas.invocations)
    bucket = dev.stack.one("aws:s3/bucket:Bucket", "consolidation-failures").state["bucket"]

    denied_before = len(dev.guard.denials)
    kept = dev.kafka.produce(cluster, topic, event("2025-12-18"), timestamp_ms=old_ms)
    dev.run_until_idle()
    assert dev.guard.denials[denied_before:] == []
    (entry,) = [d for d in mapping.discarded if (topic, kept.partition, kept.offset) in d.records]
    assert entry.destination is not None
    assert entry.destination.startswith(f"s3://{bucket}/aws/lambda/")
    key = entry.destination.split("/", 3)[3]
    document = json.loads(dev.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert document["requestContext"]["condition"] == "RecordAgeExceeded"
    assert document["requestContext"]["approximateInvokeCount"] == 0
    assert document["responseContext"] is None
    info = document["KafkaBatchInfo"]
    assert info["batchSize"] == 1
    assert info["eventSourceArn"] == cluster
    assert info["recordsInfo"][f"{topic}-{kept.partition}"]["firstRecordOffset"] == str(kept.offset)
    payload = json.loads(document["payload"])
    (record,) = payload["records"][f"{topic}-{kept.partition}"]
    assert json.loads(base64.b64decode(record["value"])) == event("2025-12-18")
    assert len(dev.lambdas.invocations) == invocations  # neither record was invoked
    assert mapping.lag() == 0


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "expected an object"),
        ({"messages": {}}, "'messages' must be a JSON list"),
        ({"chargebacks": [{"id": "x"}]}, "chargeback_id"),
        ({"objects": {"bucket/key": ""}}, "s3://bucket/key"),
        ({"partitions": 0}, "partitions"),
        ({"orders": []}, "unknown key"),
    ],
)
def test_an_input_of_the_wrong_shape_is_refused_saying_why(
    tmp_path: Path, data: Any, problem: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ScenarioInputError, match=problem):
        read_input(path)
