"""Deterministic, realistic inputs for each pipeline, in the emulator's `run` input formats.

Realistic means the mix a production day has, not only happy paths: invalid sales
records, stream records the pipes filter out, test customers and small orders the
handlers skip, replayed and malformed late events. A fixed seed makes every run measure
the same input, so two runs' numbers differ only by the code (and the machine's noise).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

DEFAULT_SEED: Final = 20251120
_FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
_LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_ITEMS = ("Blue mug", "Notebook", "Desk lamp", "USB-C cable", "Coffee beans 1kg", "Headphones")
_DOMAINS = ("example.com", "example.org", "mail.example.net", "shop.example.co.uk")


# -- validation --------------------------------------------------------------------------


@dataclass(frozen=True)
class SalesWorkload:
    """A sales file's records and what each is expected to become."""

    records: list[dict[str, Any]]
    kinds: Counter[str]

    @property
    def valid(self) -> int:
        return self.kinds["valid"]

    def file_bytes(self) -> bytes:
        """The seed's file shape: `{"orders": [...]}`, one record per line for readability."""
        body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in self.records)
        return ('{"orders": [\n' + body + "\n]}\n").encode()


def _contact(rng: random.Random, index: int) -> dict[str, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{index}@{rng.choice(_DOMAINS)}",
    }


def _order(rng: random.Random, index: int) -> dict[str, Any]:
    return {
        "orderId": f"ORD-{index:07d}",
        "item-id": f"SKU-{rng.randrange(1, 5000):05d}",
        "item-desc": rng.choice(_ITEMS),
        "qty": str(rng.randrange(1, 10)),
    }


def sales_records(count: int, seed: int = DEFAULT_SEED) -> SalesWorkload:
    """`count` sales records: ~88% valid (some with the seed's `OrderId` casing), the rest
    missing contact-info (the seed's own invalid case), missing order-info, with a bad
    e-mail, a zero quantity or a missing item id."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    records: list[dict[str, Any]] = []
    kinds: Counter[str] = Counter()
    for index in range(count):
        order, contact = _order(rng, index), _contact(rng, index)
        roll = rng.random()
        record: dict[str, Any] = {"contact-info": contact, "order-info": order}
        if roll < 0.05:
            kind = "missing_contact_info"
            del record["contact-info"]
        elif roll < 0.07:
            kind = "missing_order_info"
            del record["order-info"]
        elif roll < 0.09:
            kind = "invalid_email"
            contact["email"] = contact["email"].replace("@", " at ")
        elif roll < 0.11:
            kind = "zero_quantity"
            order["qty"] = "0"
        elif roll < 0.12:
            kind = "missing_item_id"
            del order["item-id"]
        else:
            kind = "valid"
            if roll > 0.97:  # the seed's sample spells the key `OrderId`
                order["OrderId"] = order.pop("orderId")
        kinds[kind] += 1
        records.append(record)
    return SalesWorkload(records, kinds)


# -- premium -----------------------------------------------------------------------------


@dataclass
class StreamWorkload:
    """Writes to the orders table (the emulator's premium input) and their stream records."""

    writes: list[dict[str, Any]] = field(default_factory=list)
    stream_records: list[dict[str, Any]] = field(default_factory=list)
    """The DynamoDB stream records the writes produce (NEW_AND_OLD_IMAGES), simulated."""

    def input_bytes(self) -> bytes:
        return json.dumps(self.writes).encode()


def _image(item: dict[str, Any]) -> dict[str, dict[str, str]]:
    image: dict[str, dict[str, str]] = {}
    for key, value in item.items():
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        image[key] = {"N": str(value)} if is_number else {"S": str(value)}
    return image


class _OrdersTable:
    """Just enough of a table with a NEW_AND_OLD_IMAGES stream to derive stream records."""

    def __init__(self, workload: StreamWorkload) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.workload = workload

    def _emit(self, name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        key = (new or old or {})["orderId"]
        images: dict[str, Any] = {"Keys": {"orderId": {"S": key}}}
        if new is not None:
            images["NewImage"] = _image(new)
        if old is not None:
            images["OldImage"] = _image(old)
        sequence = len(self.workload.stream_records) + 1
        images["SequenceNumber"] = f"{sequence:021d}"
        images["StreamViewType"] = "NEW_AND_OLD_IMAGES"
        self.workload.stream_records.append(
            {
                "eventID": f"{sequence:032x}",
                "eventName": name,
                "eventSource": "aws:dynamodb",
                "dynamodb": images,
            }
        )

    def put(self, item: dict[str, Any]) -> None:
        old = self.items.get(item["orderId"])
        self.items[item["orderId"]] = dict(item)
        self.workload.writes.append({"put": item})
        self._emit("MODIFY" if old else "INSERT", old, item)

    def update(self, order_id: str, changes: dict[str, Any]) -> None:
        old = self.items[order_id]
        new = {**old, **changes}
        self.items[order_id] = new
        self.workload.writes.append({"update": {"key": {"orderId": order_id}, "set": changes}})
        self._emit("MODIFY", old, new)

    def delete(self, order_id: str) -> None:
        old = self.items.pop(order_id)
        self.workload.writes.append({"delete": {"key": {"orderId": order_id}}})
        self._emit("REMOVE", old, None)


def order_changes(orders: int = 4_000, seed: int = DEFAULT_SEED) -> StreamWorkload:
    """Writes producing ~2.6 stream records per order, about a third of which no pipe wants.

    Per order: INSERT `pending` (or `processing`, 20%: filtered by both pipes); then 75%
    ship (`pending -> shipped`: both pipes; 1 in 4 of them above $1,000), 15% go to
    `processing` (filtered); a third of the shipped are later `delivered` (filtered) and 1
    in 4 orders is deleted (REMOVE: filtered). Amounts span $5-$3,000; 8% of customers are
    test customers at `test.com` in mixed case (the seed's filter meant to drop them).
    """
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    workload = StreamWorkload()
    table = _OrdersTable(workload)
    for index in range(orders):
        order_id = f"ORD-{index:07d}"
        premium = rng.random() < 0.25
        amount = rng.randrange(1001, 3000) if premium else rng.randrange(5, 1000)
        email = _contact(rng, index)["email"]
        if rng.random() < 0.08:
            email = email.split("@")[0] + "@" + rng.choice(("test.com", "Test.com", "qa.TEST.com"))
        status = "processing" if rng.random() < 0.2 else "pending"
        created = f"2025-11-20T{index % 24:02d}:{index % 60:02d}:00Z"
        table.put(
            {
                "orderId": order_id,
                "status": status,
                "amount": amount,
                "customerEmail": email,
                "createdAt": created,
                "updatedAt": created,
            }
        )
        roll = rng.random()
        if status == "pending" and roll < 0.75:
            table.update(order_id, {"status": "shipped", "updatedAt": created.replace("Z", ".5Z")})
            if rng.random() < 0.33:
                table.update(
                    order_id, {"status": "delivered", "updatedAt": created.replace("Z", ".9Z")}
                )
        elif status == "pending" and roll < 0.90:
            table.update(
                order_id, {"status": "processing", "updatedAt": created.replace("Z", ".7Z")}
            )
        if rng.random() < 0.25:
            table.delete(order_id)
    return workload


# -- late data ---------------------------------------------------------------------------


def late_events(count: int = 10_000, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """`count` EventBridge events `orders.data` / `late.record` then one schedule tick.

    ~5% are replays of an earlier event (same order and amount), ~2% are malformed (no
    orderId, or an amount that is not a number): the dead-letter path.
    """
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    entries: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for index in range(count):
        roll = rng.random()
        if details and roll < 0.05:
            detail = dict(rng.choice(details))
        else:
            detail = {
                "orderId": f"A{index:07d}",
                "amount": round(rng.uniform(-50, 2500), 2),
                "reason": rng.choice(("arrived_after_cutoff", "late_settlement", "backfill")),
            }
            if roll > 0.98:
                if roll > 0.99:
                    del detail["orderId"]
                else:
                    detail["amount"] = "four hundred"
            else:
                details.append(detail)
        minute = index % (24 * 60)
        entries.append(
            {
                "event": {
                    "version": "0",
                    "id": f"5b1d6f0e-6a3c-4d1e-9f51-{index:012d}",
                    "detail-type": "late.record",
                    "source": "orders.data",
                    "account": "123456789012",
                    "time": f"2025-11-20T{minute // 60:02d}:{minute % 60:02d}:00Z",
                    "region": "us-east-1",
                    "resources": [],
                    "detail": detail,
                }
            }
        )
    entries.append({"tick": "schedule"})
    return entries


# -- consolidation -----------------------------------------------------------------------

CONSOLIDATED_PREFIX: Final = (
    "s3://orderflow-consolidated/consolidated/chargebacks/year=2025/month=11/day=20"
)


def consolidation_input(
    chargebacks: int = 20_000, files: int = 4, seed: int = DEFAULT_SEED
) -> dict[str, Any]:
    """`chargebacks` existing chargebacks, the consolidated CSV files listing all of them
    (plus the `_SUCCESS` marker Glue writes) and the seed's one consolidation message."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    items = [
        {
            "chargeback_id": f"CB-20251120-{index:07d}",
            "created_at": f"2025-11-20T05:{index % 60:02d}:{index % 59:02d}Z",
            "amount": str(round(rng.uniform(5, 900), 2)),
            "merchant_id": f"M-{rng.randrange(1, 2000):05d}",
            "status": rng.choice(("open", "under_review", "won", "lost")),
        }
        for index in range(chargebacks)
    ]
    objects: dict[str, str] = {}
    per_file = -(-chargebacks // files)
    for number in range(files):
        rows = items[number * per_file : (number + 1) * per_file]
        lines = ["chargeback_id,amount"] + [f"{r['chargeback_id']},{r['amount']}" for r in rows]
        objects[f"{CONSOLIDATED_PREFIX}/part-{number:04d}.csv"] = "\n".join(lines) + "\n"
    objects[f"{CONSOLIDATED_PREFIX}/_SUCCESS"] = ""
    message = {
        "event_type": "consolidation_completed",
        "partition_date": "2025-11-20",
        "execution_sequence": 2,
        "total_executions": 4,
        "records_processed": chargebacks,
        "duplicates_removed": 150,
        "output_files": files,
        "output_format": "csv",
        "output_path": CONSOLIDATED_PREFIX,
        "execution_time": "2025-11-20T06:30:00",
        "completed_at": "2025-11-20T06:45:32.123456+00:00",
        "job_name": "poc-chargeback-dev-chargebacks-consolidation",
    }
    return {"chargebacks": items, "objects": objects, "messages": [message]}
