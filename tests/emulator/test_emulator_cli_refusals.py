"""`python -m emulator run` on inputs AWS refuses: an error in the report, never a traceback.

Each input here crashed the run with a traceback before (moto stored what AWS refuses, or
the refusal escaped the runner); now the report lists the refusal in `errors`, stdout holds
one JSON object, stderr one line, and the exit status is non-zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.cli import main
from orderflow.aws_facts import DYNAMODB_MAX_ITEM_BYTES

pytestmark = pytest.mark.e2e


def late(order_id: str, amount: Any) -> dict[str, Any]:
    return {
        "event": {
            "version": "0",
            "id": f"refusal-{order_id}",
            "detail-type": "late.record",
            "source": "orders.data",
            "account": "123456789012",
            "time": "2025-01-15T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"orderId": order_id, "amount": amount, "reason": "late"},
        }
    }


def run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pipeline: str, content: str
) -> tuple[int, dict[str, Any], str]:
    path = tmp_path / "input.json"
    path.write_text(content, encoding="utf-8")
    status = main(["run", pipeline, str(path), "--json"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out), captured.err


@pytest.mark.parametrize(
    ("item", "says"),
    [
        (
            {"orderId": "P1", "status": "pending", "blob": "x" * DYNAMODB_MAX_ITEM_BYTES.value},
            "PutItem: ValidationException: Item size has exceeded the maximum allowed size",
        ),
        ({"orderId": "", "status": "pending"}, "PutItem: ValidationException:"),
        ({"orderId": "P2", "status": "pending", "amount": int("1" * 39)}, "38 significant"),
    ],
    ids=["over-400-kb", "empty-key", "39-digit-amount"],
)
def test_a_premium_write_aws_refuses_is_an_error_not_a_crash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, item: dict[str, Any], says: str
) -> None:
    ok = {"put": {"orderId": "P0", "status": "pending", "amount": 5}}
    status, report, err = run(capsys, tmp_path, "premium", json.dumps([ok, {"put": item}]))
    assert status == 1
    (error,) = [e for e in report["errors"] if e["kind"] == "input"]
    assert says in error["message"]
    assert err.count("\n") == 1
    assert "refused" in err
    assert "Traceback" not in err
    assert [i["orderId"] for i in report["tables"]["premium-orders"]] == ["P0"]


def test_a_file_nested_3000_levels_is_an_error_not_a_crash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deep = "[" * 3000 + "]" * 3000
    record = (
        '{"order-info": {"orderId": "V1", "item-id": "1", "qty": 1}, '
        '"contact-info": {"name": "A", "email": "a@example.com"}, "notes": ' + deep + "}"
    )
    status, report, err = run(capsys, tmp_path, "validation", f"[{record}]")
    assert status == 1
    assert any(e["kind"] == "input" and "nested" in e["message"] for e in report["errors"])
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_late_orders_dynamodb_could_not_total_are_dead_lettered_not_a_crash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two late orders of 9e125 on one day crashed the run with decimal.Rounded."""
    events = [late("X1", "9e125"), late("X2", "9e125"), late("X3", "1" * 39), late("X4", 7)]
    status, report, _ = run(capsys, tmp_path, "late-data", json.dumps(events))
    assert status == 0
    assert report["errors"] == []
    reasons = sorted(letter["reason"] for letter in report["queues"]["late-data-dlq"])
    assert reasons == ["invalid_amount"] * 3
    (day,) = [i for i in report["tables"]["late-data-ledger"] if i["pk"].startswith("DAY#")]
    assert day["amount"] == 7
