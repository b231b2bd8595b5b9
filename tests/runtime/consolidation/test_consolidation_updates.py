"""`apply_updates` against moto: the seed's attributes, order, replays, misses and throttling."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from consolidation_support import (
    SEED_ATTRIBUTES,
    SEED_MESSAGE,
    ConsolidationAws,
    FakeLambdaContext,
    FlakyClient,
    client_error,
    emf_metrics,
    message,
    metrics_lines,
)

from runtime.common import clients
from runtime.consolidation import handler
from runtime.consolidation.schema import ConsolidationAttributes, ConsolidationEvent, parse_event
from runtime.consolidation.updates import BatchInputError, UpdatesFailedError

pytestmark = pytest.mark.filterwarnings(
    "ignore:No application metrics to publish:UserWarning"  # config errors raise before any
)

FILE = "consolidated/chargebacks/year=2025/month=11/day=20/part-0000.csv"


def consolidation(**overrides: Any) -> dict[str, Any]:
    """The `consolidation` BatchInput the workflow passes for the seed's event (+ overrides)."""
    event = parse_event(message(**overrides))
    assert isinstance(event, ConsolidationEvent)
    return dict(ConsolidationAttributes.from_event(event).to_dict())


def batch(rows: list[Any], **overrides: Any) -> dict[str, Any]:
    return {
        "Items": rows,
        "BatchInput": {"consolidation": consolidation(**overrides), "file": FILE},
    }


def csv_rows(ids: list[str]) -> list[dict[str, str]]:
    """What the CSV ItemReader yields: every value a string, header names as keys."""
    return [
        {"chargeback_id": cid, "amount": f"{n % 500}.{n % 100:02d}"} for n, cid in enumerate(ids)
    ]


def json_rows(ids: list[str]) -> list[dict[str, Any]]:
    """What the JSONL (or Parquet) reader yields: typed values, nested objects."""
    return [
        {"chargeback_id": cid, "amount": n * 1.5, "reason": {"code": 4837}, "disputed": True}
        for n, cid in enumerate(ids)
    ]


IDS = [f"CB-{n:05d}" for n in range(1000)]
NO_TIES = {"tiesWon": 0, "tiesLost": 0}


def _apply(event: dict[str, Any]) -> dict[str, int]:
    result: dict[str, int] = handler.apply_updates(event, FakeLambdaContext())
    return result


def test_a_thousand_chargebacks_get_exactly_the_seeds_attributes(
    cons_aws: ConsolidationAws, capsys: pytest.CaptureFixture[str]
) -> None:
    """1,000 chargebacks: one batch of CSV-shaped rows, one of JSON rows (500 each, the max)."""
    cons_aws.put_chargebacks(IDS)
    results = [_apply(batch(csv_rows(IDS[:500]))), _apply(batch(json_rows(IDS[500:])))]
    assert (
        results
        == [{"updated": 500, "alreadyCurrent": 0, "missing": 0, "invalidRows": 0, **NO_TIES}] * 2
    )

    items = cons_aws.chargebacks()
    assert len(items) == 1000
    expected = {
        "created_at": "2025-11-20T05:00:00Z",
        "consolidation_status": "completed",
        "consolidation_s3_path": SEED_MESSAGE["output_path"],
        "consolidation_date": SEED_MESSAGE["completed_at"],
        "consolidation_execution": 2,
        "consolidation_job_name": SEED_MESSAGE["job_name"],
        "output_format": "csv",
        "records_in_consolidation": 1250000,
        "consolidation_order": "2025-11-20#000000002#fc21023addaf39fd",
    }
    assert set(expected) - {"created_at"} == {*SEED_ATTRIBUTES, "consolidation_order"} - {
        "updated_at"
    }
    for cid, item in items.items():
        updated_at = item.pop("updated_at")
        assert updated_at.endswith("Z")
        assert item == {"chargeback_id": cid, **expected}  # nothing from the rows is copied

    out = capsys.readouterr().out
    assert emf_metrics(out) == {"ChargebacksUpdated": 1000.0, "ChargebacksMissing": 0.0}
    assert (
        metrics_lines(out)
        == ["METRICS: messages_processed=0, messages_failed=0, chargebacks_updated=500"] * 2
    )


def test_a_newer_sequence_from_parquet_rows_moves_chargebacks_forward(
    cons_aws: ConsolidationAws,
) -> None:
    cons_aws.put_chargebacks(IDS[:100])
    _apply(batch(csv_rows(IDS[:100])))
    newer = {"execution_sequence": 3, "output_format": "parquet"}
    assert _apply(batch(json_rows(IDS[:100]), **newer))["updated"] == 100
    items = cons_aws.chargebacks()
    assert {item["consolidation_order"] for item in items.values()} == {
        consolidation(**newer)["consolidation_order"]
    }
    assert {item["consolidation_order"][:20] for item in items.values()} == {"2025-11-20#000000003"}
    assert {item["output_format"] for item in items.values()} == {"parquet"}


def test_a_replayed_batch_changes_nothing(cons_aws: ConsolidationAws) -> None:
    cons_aws.put_chargebacks(IDS[:100])
    event = batch(csv_rows(IDS[:100]))
    _apply(event)
    before = cons_aws.chargebacks_raw()
    assert _apply(event) == {
        "updated": 0,
        "alreadyCurrent": 100,
        "missing": 0,
        "invalidRows": 0,
        **NO_TIES,
    }
    assert cons_aws.chargebacks_raw() == before  # updated_at included


def test_an_older_sequence_arriving_after_a_newer_one_changes_nothing(
    cons_aws: ConsolidationAws,
) -> None:
    cons_aws.put_chargebacks(IDS[:50])
    _apply(batch(csv_rows(IDS[:50]), execution_sequence=3))
    before = cons_aws.chargebacks_raw()
    older = _apply(batch(csv_rows(IDS[:50]), execution_sequence=2))
    assert older == {"updated": 0, "alreadyCurrent": 50, "missing": 0, "invalidRows": 0, **NO_TIES}
    assert cons_aws.chargebacks_raw() == before
    # A later partition date is newer whatever its sequence.
    later = _apply(batch(csv_rows(IDS[:50]), partition_date="2025-11-21", execution_sequence=1))
    assert later["updated"] == 50


def test_missing_chargebacks_are_listed_in_one_dead_letter(cons_aws: ConsolidationAws) -> None:
    present, absent = IDS[:15], IDS[15:20]
    cons_aws.put_chargebacks(present)
    rows = csv_rows(IDS[:20])
    assert _apply(batch(rows)) == {
        "updated": 15,
        "alreadyCurrent": 0,
        "missing": 5,
        "invalidRows": 0,
        **NO_TIES,
    }
    assert set(cons_aws.chargebacks()) == set(present)  # nothing created

    [letter] = cons_aws.dead_letters()
    assert letter["reason"] == "chargebacks_missing"
    assert [entry["row"]["chargeback_id"] for entry in letter["record"]["rows"]] == absent
    assert [entry["index"] for entry in letter["record"]["rows"]] == [15, 16, 17, 18, 19]
    assert letter["record"]["consolidation"] == consolidation()
    assert letter["source"]["file"] == FILE
    assert letter["source"]["consolidation_order"] == "2025-11-20#000000002#fc21023addaf39fd"

    _apply(batch(rows))  # the batch retried: the same letter again, same id for deduplication
    [again] = cons_aws.dead_letters()
    assert again["id"] == letter["id"]


def test_rows_without_a_chargeback_id_are_dead_lettered_not_raised(
    cons_aws: ConsolidationAws,
) -> None:
    cons_aws.put_chargebacks(IDS[:2])
    rows: list[Any] = [
        {"chargeback_id": IDS[0], "amount": "1"},
        {"amount": "2"},
        {"chargeback_id": ""},
        {"chargeback_id": None},
        {"chargeback_id": True},
        ["CB-00001"],
        {"chargeback_id": IDS[1]},
        {"chargeback_id": IDS[1]},  # repeated: one update, counted as already current
    ]
    assert _apply(batch(rows)) == {
        "updated": 2,
        "alreadyCurrent": 1,
        "missing": 0,
        "invalidRows": 5,
        **NO_TIES,
    }
    [letter] = cons_aws.dead_letters()
    assert letter["reason"] == "row_without_chargeback_id"
    assert [entry["index"] for entry in letter["record"]["rows"]] == [1, 2, 3, 4, 5]
    assert letter["record"]["rows"][4]["row"] == ["CB-00001"]


def test_integer_ids_from_typed_readers_are_taken_as_text(cons_aws: ConsolidationAws) -> None:
    cons_aws.put_chargebacks(["1001"])
    assert _apply(batch([{"chargeback_id": 1001}]))["updated"] == 1


def _throttled(
    monkeypatch: pytest.MonkeyPatch,
    failures: dict[str, int],
    code: str = "ProvisionedThroughputExceededException",
) -> FlakyClient:
    """Make update_item raise `code` for each id in `failures`, that many times."""
    real = clients.client
    left = dict(failures)
    lock = threading.Lock()

    def should_fail(kwargs: dict[str, Any]) -> bool:
        cid = kwargs["Key"]["chargeback_id"]["S"]
        with lock:
            if left.get(cid, 0) > 0:
                left[cid] -= 1
                return True
        return False

    flaky = FlakyClient(
        real("dynamodb"), "update_item", should_fail, lambda _: client_error(code, "UpdateItem")
    )
    monkeypatch.setattr(clients, "client", lambda s: flaky if s == "dynamodb" else real(s))
    return flaky


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"],
)
def test_throttled_updates_are_retried_with_backoff_until_applied(
    cons_aws: ConsolidationAws,
    monkeypatch: pytest.MonkeyPatch,
    slept: list[float],
    code: str,
) -> None:
    cons_aws.put_chargebacks(IDS[:60])
    throttled = {cid: 3 for cid in IDS[:60:5]}  # 12 ids, 3 failures each (4 attempts allowed)
    flaky = _throttled(monkeypatch, throttled, code)
    assert _apply(batch(csv_rows(IDS[:60])))["updated"] == 60
    assert len(flaky.calls) == 60 + 3 * 12
    assert len(slept) == 3 * 12
    assert all(delay >= 0 for delay in slept)
    assert {item["consolidation_order"] for item in cons_aws.chargebacks().values()} == {
        "2025-11-20#000000002#fc21023addaf39fd"
    }


def test_5xx_answers_are_retried_too(
    cons_aws: ConsolidationAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    cons_aws.put_chargebacks(IDS[:5])
    real = clients.client
    left = {"n": 2}

    def should_fail(_: dict[str, Any]) -> bool:
        left["n"] -= 1
        return left["n"] >= 0

    flaky = FlakyClient(
        real("dynamodb"),
        "update_item",
        should_fail,
        lambda _: client_error("InternalServerError", "UpdateItem", 500),
    )
    monkeypatch.setattr(clients, "client", lambda s: flaky if s == "dynamodb" else real(s))
    monkeypatch.setenv("UPDATE_CONCURRENCY", "1")
    assert _apply(batch(csv_rows(IDS[:5])))["updated"] == 5


def test_updates_still_throttled_after_the_retries_raise(
    cons_aws: ConsolidationAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    cons_aws.put_chargebacks(IDS[:20])
    original = clients.client
    _throttled(monkeypatch, {IDS[7]: 100, IDS[8]: 100})
    with pytest.raises(UpdatesFailedError, match="2 chargeback update"):
        _apply(batch(csv_rows(IDS[:20])))
    items = cons_aws.chargebacks()
    assert sum("consolidation_order" in item for item in items.values()) == 18
    # Step Functions retries the batch once the throttling is over: all applied, once.
    monkeypatch.setattr(clients, "client", original)
    assert _apply(batch(csv_rows(IDS[:20]))) == {
        "updated": 2,
        "alreadyCurrent": 18,
        "missing": 0,
        "invalidRows": 0,
        **NO_TIES,
    }


def test_a_non_transient_error_is_not_retried(
    cons_aws: ConsolidationAws, monkeypatch: pytest.MonkeyPatch, slept: list[float]
) -> None:
    cons_aws.put_chargebacks(IDS[:3])
    flaky = _throttled(monkeypatch, {IDS[1]: 100}, code="ValidationException")
    with pytest.raises(UpdatesFailedError, match="ValidationException"):
        _apply(batch(csv_rows(IDS[:3])))
    assert len(flaky.calls) == 3
    assert slept == []


def test_updates_run_on_at_most_update_concurrency_threads(
    cons_aws: ConsolidationAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    cons_aws.put_chargebacks(IDS[:32])
    threads: set[int] = set()
    real = clients.client

    def record(_: dict[str, Any]) -> bool:
        threads.add(threading.get_ident())
        return False

    flaky = FlakyClient(real("dynamodb"), "update_item", record, lambda _: AssertionError())
    monkeypatch.setattr(clients, "client", lambda s: flaky if s == "dynamodb" else real(s))
    monkeypatch.setenv("UPDATE_CONCURRENCY", "4")
    assert _apply(batch(csv_rows(IDS[:32])))["updated"] == 32
    assert 1 <= len(threads) <= 4
    assert threading.get_ident() not in threads


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Items": [], "BatchInput": {"file": FILE}},
        {"Items": [], "BatchInput": {"consolidation": consolidation()}},
        {"Items": [{}] * 501, "BatchInput": {"consolidation": consolidation(), "file": FILE}},
        {
            "Items": [],
            "BatchInput": {
                "consolidation": {**consolidation(), "output_format": "x"},
                "file": FILE,
            },
        },
    ],
)
def test_a_batch_breaking_the_workflow_contract_raises(
    cons_aws: ConsolidationAws, event: dict[str, Any]
) -> None:
    with pytest.raises(BatchInputError):
        _apply(event)


def test_an_invalid_concurrency_setting_is_reported(
    cons_aws: ConsolidationAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPDATE_CONCURRENCY", "lots")
    with pytest.raises(RuntimeError, match="UPDATE_CONCURRENCY"):
        _apply(batch([]))


def test_two_jobs_with_one_date_and_sequence_resolve_the_same_way_in_either_order(
    cons_aws: ConsolidationAws,
) -> None:
    """Neither is taken for a replay of the other; the same one wins, and the tie is counted."""
    europe = batch(csv_rows(IDS[:40]), job_name="consolidation-eu")
    america = batch(csv_rows(IDS[:40]), job_name="consolidation-us")
    orders = {
        job: event["BatchInput"]["consolidation"]["consolidation_order"]
        for job, event in (("eu", europe), ("us", america))
    }
    assert orders["eu"][:21] == orders["us"][:21]
    assert orders["eu"] != orders["us"]
    winner = max(orders, key=orders.__getitem__)
    finals = []
    for first, second in ((europe, america), (america, europe)):
        cons_aws.put_chargebacks(IDS[:40])  # back to the un-consolidated chargebacks
        assert _apply(first)["updated"] == 40
        summary = _apply(second)
        second_wins = second["BatchInput"]["consolidation"]["consolidation_order"] == max(
            orders.values()
        )
        assert summary["tiesWon"] == (40 if second_wins else 0)
        assert summary["tiesLost"] == (0 if second_wins else 40)
        assert summary["updated"] == summary["tiesWon"]
        settled = cons_aws.chargebacks_raw()
        replayed = _apply(second)  # a replay changes nothing and says the same
        assert replayed["updated"] == 0
        assert replayed["alreadyCurrent"] + replayed["tiesLost"] == 40
        assert _apply(first)["updated"] == 0
        assert cons_aws.chargebacks_raw() == settled
        finals.append(cons_aws.chargebacks())
    assert finals[0] == {
        k: {**v, "updated_at": finals[0][k]["updated_at"]} for k, v in finals[1].items()
    }
    jobs = {item["consolidation_job_name"] for item in finals[0].values()}
    assert jobs == {f"consolidation-{winner}"}


def test_rows_exported_with_a_byte_order_mark_and_crlf_name_their_chargebacks(
    cons_aws: ConsolidationAws,
) -> None:
    """A BOM glued to the first header, a CR left on the last field by an LF-only reader."""
    cons_aws.put_chargebacks(IDS[:3])
    rows = [
        {"\ufeffchargeback_id": IDS[0], "amount\r": "1.00\r"},
        {"amount": "2.00", "chargeback_id\r": f"{IDS[1]}\r"},
        {"chargeback_id": IDS[2]},
    ]
    assert _apply(batch(rows)) == {
        "updated": 3,
        "alreadyCurrent": 0,
        "missing": 0,
        "invalidRows": 0,
        **NO_TIES,
    }
    assert cons_aws.dead_letters() == []
