"""ValidationPipeline under bad input and injected faults: every record ends in exactly one place.

One emulator for the module (the validation component alone, dev settings, batches of 4
records so files span several Map children); every test uploads its own file names with
its own orderIds, and checks `conservation.validation` on its run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import conservation
import conservation_tally
import pytest
from fault_support import ROOT, Run, deployed, run_input, sales_record, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.engine import Emulator
from emulator.faults import Faults
from emulator.report import Mark, build_report
from emulator.scenarios import SCENARIOS
from runtime.validation.batch import plan_batch
from runtime.validation.schema import RECORD_REASONS, Rejection, ValidRecord, validate_record

pytestmark = pytest.mark.e2e

BATCH = 4


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with deployed("validation", batchSize=BATCH) as emulator:
        yield emulator


def _bytes(content: bytes | str | Any) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode()
    return json.dumps(content).encode()


def run_file(
    emulator: Emulator,
    tmp_path: Path,
    name: str,
    content: bytes | str | Any,
    faults: Callable[[Faults], object] | None = None,
) -> tuple[Run, conservation.Conservation, Faults]:
    """Upload `content` as `incoming/<name>` (with `faults` armed) and check conservation."""
    with Faults(emulator) as armed:
        if faults is not None:
            faults(armed)
        run = run_input(emulator, "validation", write(tmp_path, name, content))
    key = f"incoming/{name}"
    version = conservation.uploaded_version(run.report, key)
    result = conservation.validation(run.report, key, _bytes(content), version=version)
    return run, result.check(), armed


def _reasons_by_index(run: Run, key: str) -> dict[int, str]:
    return {
        int(b["source"]["recordIndex"]): str(b["reason"])
        for b in run.report["queues"]["validation-dlq"]
        if b["source"].get("key") == key and "recordIndex" in b["source"]
    }


# -- files the pipeline cannot read: one file-level letter naming the file ------------------
UNREADABLE = [
    ("truncated.json", b'[{"order-info": {"orderId": "tr-1", "qty": 2}', "not_json"),
    ("binary.json", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not_utf8"),
    ("latin1.json", '[{"order-info": {"orderId": "caf\xe9"}}]'.encode("latin-1"), "not_utf8"),
    ("empty.json", b"", "empty_file"),
    ("whitespace.json", b" \n\t\r\n  ", "empty_file"),
    ("number.json", b"42", "unknown_shape"),
    ("string.json", b'"orders"', "unknown_shape"),
    ("null.json", b"null", "unknown_shape"),
    ("no-orders.json", b'{"sales": [{"order-info": {}}]}', "unknown_shape"),
    ("orders-object.json", b'{"orders": {"order-info": {}}}', "unknown_shape"),
    ("prose.jsonl", b"these are not JSON lines\n", "not_json"),
]


@pytest.mark.parametrize(("name", "content", "reason"), UNREADABLE)
def test_unreadable_files_are_one_dead_letter(
    emulator: Emulator, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    run, result, _ = run_file(emulator, tmp_path, name, content)
    assert result.reasons == {reason: 1}
    assert run.report["invocations"]["validation-validate"] == 0
    assert [e["status"] for e in run.report["executions"]] == ["SUCCEEDED"]


def test_a_bad_line_in_json_lines_dead_letters_the_whole_file(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The Map's reader fails on the line; the workflow gives the file up whole."""
    lines = [json.dumps(sales_record(f"bl-{i}")) for i in range(3)]
    content = "\n".join([lines[0], lines[1], "{broken", lines[2]]) + "\n"
    _, result, _ = run_file(emulator, tmp_path, "bad-line.jsonl", content)
    assert result.reasons == {"file_unreadable": 1}


# -- records: each stored or dead-lettered with the schema's reason ------------------------
def record_corpus(prefix: str) -> list[tuple[Any, str | None]]:
    """(record, expected reason or None for stored), covering every record reason."""
    huge = sales_record(f"{prefix}-huge", desc="x" * 70_000)
    deep: Any = "bottom"
    for _ in range(40):  # deeper than DynamoDB's 32 levels: stored before, now refused
        deep = {"more": deep}
    return [
        (sales_record(f"{prefix}-ok"), None),
        # Same batch as its first occurrence: refused there (across batches the table
        # upserts by orderId, batch.py).
        (sales_record(f"{prefix}-ok", qty="9"), "duplicate_order_id"),
        (
            {
                "Order-Info": {"OrderID": f"{prefix}-case", "ITEM_ID": "7", "Qty": 1},
                "CONTACT_INFO": {"Name": "Ada", "EMAIL": "ada@example.com"},
            },
            None,
        ),
        (sales_record(f"{prefix}-int-qty", qty=3), None),
        (sales_record(f"{prefix}-bool", qty=True), "invalid_field"),
        (sales_record(f"{prefix}-abc", qty="abc"), "invalid_field"),
        (sales_record(f"{prefix}-neg", qty=-1), "invalid_field"),
        (sales_record(f"{prefix}-float", qty=1.5), "invalid_field"),
        (sales_record([f"{prefix}-list"]), "invalid_field"),
        ({"order-info": [], "contact-info": {}}, "invalid_field"),
        (sales_record(f"{prefix}-nocontact", contact=False), "missing_contact_info"),
        ({"contact-info": {"name": "A", "email": "a@example.com"}}, "missing_order_info"),
        (
            {
                "order-info": {"orderId": f"{prefix}-noqty", "item-id": "1"},
                "contact-info": {"name": "A", "email": "a@example.com"},
            },
            "missing_field",
        ),
        ({**sales_record(f"{prefix}-amb"), "Order_Info": {}}, "ambiguous_field"),
        (sales_record(f"{prefix}-amb2", OrderId="other"), "ambiguous_field"),
        (
            sales_record(f"{prefix}-mail", contact=True)
            | {"contact-info": {"name": "A", "email": 42}},
            "invalid_field",
        ),
        (None, "not_an_object"),
        (17, "not_an_object"),
        ("order", "not_an_object"),
        ([sales_record(f"{prefix}-nested")], "not_an_object"),
        (huge, "record_too_large"),
        ({**sales_record(f"{prefix}-deep"), "notes": deep}, "record_too_deep"),
    ]


@pytest.mark.parametrize("shape", ["array", "orders", "jsonl"])
def test_every_bad_record_is_dead_lettered_with_its_reason(
    emulator: Emulator, tmp_path: Path, shape: str
) -> None:
    corpus = record_corpus(f"rec-{shape}")
    records = [record for record, _ in corpus]
    name, content = {
        "array": ("records.json", json.dumps(records)),
        "orders": ("orders.json", json.dumps({"orders": records})),
        "jsonl": ("records.jsonl", "\n".join(json.dumps(r) for r in records) + "\n"),
    }[shape]
    run, result, _ = run_file(emulator, tmp_path, name, content)
    expected = {i: reason for i, (_, reason) in enumerate(corpus) if reason}
    assert _reasons_by_index(run, f"incoming/{name}") == expected
    assert result.stored == len(corpus) - len(expected)
    assert set(result.reasons) <= RECORD_REASONS
    assert run.report["invocations"]["validation-validate"] > 1  # several batches


def test_a_huge_record_is_dead_lettered_verbatim(emulator: Emulator, tmp_path: Path) -> None:
    """Over the 64 KiB record limit but within a Map child's input: the record alone."""
    records = [sales_record("big-1", desc="y" * 200_000), sales_record("big-2")]
    _, result, _ = run_file(emulator, tmp_path, "big.json", records)
    assert result.reasons == {"record_too_large": 1}
    assert (result.stored, result.dead_lettered) == (1, 1)


def test_a_record_over_the_step_functions_payload_limit_dead_letters_its_file(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A record over 256 KiB cannot enter a Map child (States.DataLimitExceeded): the file
    is given up whole, so the truncating path of the dead-letter builder is never reached
    from this pipeline. Nothing is lost, but one record blocks its file's neighbours."""
    records = [sales_record("huge-1", desc="y" * 300_000), sales_record("huge-2")]
    run, result, _ = run_file(emulator, tmp_path, "too-big.json", records)
    assert result.reasons == {"file_unreadable": 1}
    (letter,) = [
        b
        for b in run.report["queues"]["validation-dlq"]
        if b["source"]["key"] == "incoming/too-big.json"
    ]
    assert "States.DataLimitExceeded" in letter["message"]


def test_the_same_file_delivered_twice_is_stored_once(emulator: Emulator, tmp_path: Path) -> None:
    """EventBridge delivers at least once: the same S3 event twice rewrites the same items
    and re-sends the same dead letters (same ids, which consumers deduplicate on)."""
    records = [sales_record(f"twice-{i}", contact=i != 2) for i in range(6)]
    first, once, _ = run_file(emulator, tmp_path, "twice.json", records)
    (event,) = first.report["events"]
    mark = Mark.now(emulator)
    emulator.events.publish(event, "default")
    emulator.run_until_idle()
    again = build_report(emulator, "validation", SCENARIOS["validation"].component(emulator), mark)
    key = "incoming/twice.json"
    version = conservation.uploaded_version(first.report, key)
    twice = conservation.validation(again, key, json.dumps(records).encode(), version=version)
    assert (
        (once.stored, once.dead_lettered) == (twice.check().stored, twice.dead_lettered) == (5, 1)
    )
    letters = [b for b in again["queues"]["validation-dlq"] if b["source"]["key"] == key]
    assert len(letters) == 2
    assert len({b["id"] for b in letters}) == 1
    assert [e["status"] for e in again["executions"]] == ["SUCCEEDED"]


def test_a_file_uploaded_again_replaces_its_items(emulator: Emulator, tmp_path: Path) -> None:
    """A new upload is a new object version: a new input, whose items replace the old."""
    records = [sales_record(f"again-{i}", contact=i != 0) for i in range(5)]
    run_file(emulator, tmp_path, "again.json", records)
    second, result, _ = run_file(emulator, tmp_path, "again.json", records)
    items = [
        i
        for i in second.report["tables"]["validation-orders"]
        if i["sourceKey"] == ("incoming/again.json")
    ]
    assert len(items) == result.stored == 4


# -- injected faults -----------------------------------------------------------------------
def _mixed(prefix: str, count: int = 10) -> list[dict[str, Any]]:
    return [sales_record(f"{prefix}-{i}", contact=i % 3 != 0) for i in range(count)]


FAULTS: list[tuple[str, Callable[[Faults], object]]] = [
    ("throttled", lambda f: f.throttle_dynamodb(times=2, table="validation-orders")),
    (
        "unprocessed",
        lambda f: f.throttle_dynamodb(times=2, table="validation-orders", unprocessed=True),
    ),
    ("validate-error", lambda f: f.lambda_errors("validation-validate", times=2)),
    ("validate-timeout", lambda f: f.lambda_timeouts("validation-validate", times=2)),
    ("inspect-error", lambda f: f.lambda_errors("validation-inspect", times=1)),
    ("inspect-timeout", lambda f: f.lambda_timeouts("validation-inspect", times=1)),
    ("dlq-error", lambda f: f.fail_sqs_sends(times=1, queue="validation-dlq")),
    ("dlq-partial", lambda f: f.fail_sqs_sends(times=3, queue="validation-dlq", partial=True)),
    (
        "lambda-throttled",
        lambda f: f.fail_calls(
            "lambda", ["Invoke"], times=2, code="TooManyRequestsException", status=429
        ),
    ),
]


@pytest.mark.parametrize(("label", "arm"), FAULTS, ids=[label for label, _ in FAULTS])
def test_transient_faults_are_retried_without_loss_or_duplicates(
    emulator: Emulator, tmp_path: Path, label: str, arm: Callable[[Faults], object]
) -> None:
    records = _mixed(f"fault-{label}")
    run, result, faults = run_file(emulator, tmp_path, f"fault-{label}.json", records, arm)
    assert faults.hits, "the fault never fired"
    assert (result.stored, result.dead_lettered) == (6, 4)
    assert result.reasons == {"missing_contact_info": 4}
    assert [e["status"] for e in run.report["executions"]] == ["SUCCEEDED"]


@pytest.mark.parametrize(
    ("label", "arm", "reason"),
    [
        ("table-down", lambda f: f.throttle_dynamodb(times=None), "file_unreadable"),
        (
            "validate-down",
            lambda f: f.lambda_errors("validation-validate", times=None),
            "file_unreadable",
        ),
        (
            "inspect-down",
            lambda f: f.lambda_errors("validation-inspect", times=None),
            "inspect_failed",
        ),
    ],
)
def test_lasting_faults_dead_letter_the_file_whole(
    emulator: Emulator,
    tmp_path: Path,
    label: str,
    arm: Callable[[Faults], object],
    reason: str,
) -> None:
    _, result, _ = run_file(emulator, tmp_path, f"down-{label}.json", _mixed(label, 5), arm)
    assert result.reasons == {reason: 1}


def test_a_workflow_that_cannot_start_parks_the_event_in_the_rule_dlq(
    emulator: Emulator, tmp_path: Path
) -> None:
    arm = lambda f: f.fail_calls(  # noqa: E731
        "stepfunctions", ["StartExecution"], times=None, code="ThrottlingException", status=400
    )
    run, result, _ = run_file(emulator, tmp_path, "no-start.json", _mixed("nostart", 3), arm)
    assert run.report["executions"] == []
    assert (result.stored, result.dead_lettered) == (0, 0)
    (parked,) = [
        e
        for e in run.report["queues"]["validation-delivery-dlq"]
        if e["detail"]["object"]["key"] == "incoming/no-start.json"
    ]
    assert parked["source"] == "aws.s3"


def test_a_dlq_that_stays_down_leaves_the_file_in_a_failed_execution_only(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The limit of "nothing is lost": with the DLQ down for every retry, the only trace of
    the rejected record is the FAILED execution (and the failed-executions alarm); the
    file is recovered by redriving that execution or uploading the file again."""
    content = [sales_record("dlq-down", contact=False)]
    conservation_tally.accept_loss(
        "the DLQ refuses every retry: the FAILED execution is the record's only trace"
    )
    with Faults(emulator) as faults:
        faults.fail_sqs_sends(times=None, queue="validation-dlq")
        run = run_input(emulator, "validation", write(tmp_path, "dlq-down.json", content))
    result = conservation.validation(run.report, "incoming/dlq-down.json", _bytes(content))
    assert [e["status"] for e in run.report["executions"]] == ["FAILED"]
    assert result.problems == ["1 record(s) lost, e.g. [0]"]
    assert any(e["kind"] == "execution" for e in run.report["errors"])


# -- property-based: generated records, the validator as oracle, faults at random ---------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=2) | st.dictionaries(st.text(max_size=6), children, max_size=2)
    ),
    max_leaves=5,
)
KEYS = ["orderId", "OrderId", "order_id", "item-id", "ITEM-ID", "qty", "Qty", "item-desc"]
records = st.one_of(
    st.builds(
        lambda oid, qty, drop, extra, email: {
            "order-info": {
                k: v
                for k, v in {"orderId": oid, "item-id": "1", "qty": qty, **extra}.items()
                if k != drop
            },
            "contact-info": {"name": "N", "email": email},
        },
        st.integers(0, 30).map(lambda n: f"gen-{n}"),
        st.one_of(st.integers(-1, 5), st.sampled_from(["2", "x", "", " 3 "]), st.booleans()),
        st.sampled_from(["", "orderId", "qty", "item-id"]),
        st.dictionaries(st.sampled_from(KEYS), json_values, max_size=2),
        st.sampled_from(["a@example.com", "nope", "b@test.co"]),
    ),
    json_values,
)


def _expected(values: list[Any]) -> dict[int, str]:
    """The validator's verdict per index, with in-batch duplicates (batch.plan_batch)."""
    verdicts: dict[int, str] = {}
    for start in range(0, len(values), BATCH):
        seen: set[str] = set()
        for index in range(start, min(start + BATCH, len(values))):
            outcome = validate_record(values[index])
            if isinstance(outcome, Rejection):
                verdicts[index] = outcome.reason
            elif isinstance(outcome, ValidRecord) and outcome.order_id in seen:
                verdicts[index] = "duplicate_order_id"
            else:
                seen.add(outcome.order_id)
    return verdicts


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(values=st.lists(records, min_size=1, max_size=9))
def test_generated_records_end_where_the_validator_says(
    emulator: Emulator, tmp_path: Path, values: list[Any]
) -> None:
    """The pipeline agrees with `validate_record`, record by record (cross-batch duplicate
    orderIds are upserts, so generated ids are made unique per batch window)."""
    for index, value in enumerate(values):  # make cross-batch duplicates impossible
        info = value.get("order-info") if isinstance(value, dict) else None
        if isinstance(info, dict) and isinstance(info.get("orderId"), str):
            info["orderId"] = f"{info['orderId']}-b{index // BATCH}"
    name = f"gen-{abs(hash(json.dumps(values, sort_keys=True)))}.json"
    run, _, _ = run_file(emulator, tmp_path, name, values)
    assert _reasons_by_index(run, f"incoming/{name}") == _expected(values)


# At most 3 failures of the validate step in all: the Map's retry budget for one batch
# (1 + 3 attempts), so no plan may legitimately give a file up.
fault_plans = st.fixed_dictionaries(
    {
        "throttles": st.integers(0, 2),
        "errors": st.integers(0, 2),
        "timeouts": st.integers(0, 1),
        "sqs": st.integers(0, 2),
    }
).filter(lambda plan: plan["throttles"] + plan["errors"] + plan["timeouts"] <= 3)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    count=st.integers(1, 12),
    invalid_every=st.integers(2, 5),
    plan=fault_plans,
)
def test_conservation_holds_under_random_transient_faults(
    emulator: Emulator, tmp_path: Path, count: int, invalid_every: int, plan: dict[str, int]
) -> None:
    tag = f"rnd-{count}-{invalid_every}-" + "-".join(str(v) for v in plan.values())
    values = [sales_record(f"{tag}-{i}", contact=i % invalid_every != 0) for i in range(count)]

    def arm(faults: Faults) -> None:
        faults.throttle_dynamodb(times=plan["throttles"], table="validation-orders")
        faults.lambda_errors("validation-validate", times=plan["errors"])
        faults.lambda_timeouts("validation-validate", times=plan["timeouts"])
        faults.fail_sqs_sends(times=plan["sqs"], queue="validation-dlq", partial=True)

    _, result, _ = run_file(emulator, tmp_path, f"{tag}.json", values, arm)
    invalid = len(range(0, count, invalid_every))
    assert (result.stored, result.dead_lettered) == (count - invalid, invalid)


def test_the_seed_sample_is_conserved(emulator: Emulator, tmp_path: Path) -> None:
    seed = (ROOT / "samples" / "validation" / "mock-data.json").read_bytes()
    _, result, _ = run_file(emulator, tmp_path, "seed-copy.json", seed)
    assert (result.stored, result.dead_lettered) == (1, 1)
    assert plan_batch is not None
