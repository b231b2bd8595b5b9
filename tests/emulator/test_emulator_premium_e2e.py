"""PremiumOrderPipe end to end: table writes → stream → both pipes → handlers → bus and SNS.

One dev-stack deploy for the module; every test writes its own orders (distinct ids), so
the tests hold in any order.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from emulator_support import ROOT

from emulator.cli import run_scenario
from emulator.engine import Emulator
from emulator.report import Mark, build_report
from emulator.scenarios import SCENARIOS
from emulator.scenarios.base import Outcome
from emulator.scenarios.premium import Fed, PremiumScenario
from emulator.services.pipes import PipeRunner, PipesService

pytestmark = pytest.mark.e2e

_REGISTERED = SCENARIOS["premium"]
assert isinstance(_REGISTERED, PremiumScenario)
SCENARIO: PremiumScenario = _REGISTERED
SEED_WRITES = ROOT / "samples" / "premium" / "seed-writes.json"
FUNCTION = "aws:lambda/function:Function"
KNOWN = ("pending", "processing", "shipped", "delivered", "cancelled")


def _run(dev: Emulator, writes: list[dict[str, Any]]) -> tuple[dict[str, Any], Outcome, Fed]:
    mark = Mark.now(dev)
    fed = SCENARIO.feed_writes(dev, writes)
    dev.run_until_idle()
    report = build_report(dev, SCENARIO.name, SCENARIO.component(dev), mark)
    report = SCENARIO.adjust_report(dev, report, fed)
    return report, SCENARIO.outcome(report, fed), fed


def _domain(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e for e in report["events"] if e["detail-type"] in ("OrderAccepted", "PremiumOrderShipped")
    ]


def _put(order_id: str, status: str, amount: Any, email: str) -> dict[str, Any]:
    return {
        "put": {
            "orderId": order_id,
            "status": status,
            "amount": amount,
            "customerEmail": email,
            "createdAt": "2024-05-01T12:00:00Z",
        }
    }


def _set(order_id: str, **values: Any) -> dict[str, Any]:
    return {"update": {"key": {"orderId": order_id}, "set": values}}


def _queue(dev: Emulator, name: str, *, allow_events_from: str | None = None) -> tuple[str, str]:
    """A capture queue (URL, ARN); EventBridge may send to it on behalf of one rule."""
    sqs = dev.client("sqs")
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:123456789012:{name}"
    if allow_events_from is not None:
        statement = {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": allow_events_from}},
        }
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def _bodies(dev: Emulator, url: str) -> list[Any]:
    sqs = dev.client("sqs")
    found: list[Any] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        found += [json.loads(m["Body"]) for m in messages]


def test_the_seed_writes_publish_what_the_readme_says(dev: Emulator) -> None:
    """ORD-1001 pending→shipped (1500): one OrderAccepted and one PremiumOrderShipped for the
    transition, the SNS notification delivered; the rest skipped or filtered; no DLQ."""
    bus = SCENARIO.resource(dev, "aws:cloudwatch/eventBus:EventBus", "bus").state["name"]
    topic = SCENARIO.resource(dev, "aws:sns/topic:Topic", "notifications").state["arn"]
    events, sns = dev.client("events"), dev.client("sns")
    rule = events.put_rule(
        Name="seed-capture",
        EventBusName=bus,
        EventPattern=json.dumps({"detail": {"orderId": ["ORD-1001", "ORD-1002", "ORD-1003"]}}),
    )["RuleArn"]
    bus_queue, bus_queue_arn = _queue(dev, "seed-bus-capture", allow_events_from=rule)
    events.put_targets(
        Rule="seed-capture", EventBusName=bus, Targets=[{"Id": "q", "Arn": bus_queue_arn}]
    )
    sns_queue, sns_queue_arn = _queue(dev, "seed-sns-capture")
    subscription = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=sns_queue_arn, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    try:
        report, outcome = run_scenario(dev, SCENARIO, SEED_WRITES)
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        events.remove_targets(Rule="seed-capture", EventBusName=bus, Ids=["q"])
        events.delete_rule(Name="seed-capture", EventBusName=bus)

    # The `run premium --json` object: the contract's keys, plain JSON throughout.
    assert json.loads(json.dumps(report)) == report
    assert list(report) == [
        "pipeline",
        "tables",
        "queues",
        "events",
        "executions",
        "invocations",
        "iam_denied",
        "errors",
    ]
    assert report["pipeline"] == "premium"
    assert set(report["tables"]) == {"premium-orders", "premium-idempotency"}
    assert outcome.problems == []
    assert report["iam_denied"] == []
    assert report["errors"] == []
    assert (outcome.records_in, outcome.stored, outcome.dead_lettered) == (7, 3, 0)
    domain = _domain(report)
    assert Counter(e["detail-type"] for e in domain) == {
        "OrderAccepted": 2,
        "PremiumOrderShipped": 1,
    }
    shipped = [
        e
        for e in domain
        if e["detail"]["orderId"] == "ORD-1001"
        and (e["detail"]["previousStatus"], e["detail"]["status"]) == ("pending", "shipped")
    ]
    assert sorted(e["detail-type"] for e in shipped) == ["OrderAccepted", "PremiumOrderShipped"]
    (premium,) = [e for e in shipped if e["detail-type"] == "PremiumOrderShipped"]
    assert premium["detail"]["amount"] == "1500"
    assert {e["detail"]["orderId"] for e in domain} == {"ORD-1001"}
    # Subscribers see the same: the bus delivered the events, SNS the one notification.
    assert sorted(e["detail-type"] for e in _bodies(dev, bus_queue)) == sorted(
        e["detail-type"] for e in domain
    )
    (note,) = _bodies(dev, sns_queue)
    assert json.loads(note["Message"])["orderId"] == "ORD-1001"
    assert note["MessageAttributes"]["detailType"]["Value"] == "PremiumOrderShipped"
    assert report["queues"] == {
        "premium-dlq": [],
        "premium-premium-pipe-dlq": [],
        "premium-standard-pipe-dlq": [],
    }
    assert report["executions"] == []
    assert report["invocations"] == {"premium-premium": 1, "premium-standard": 1}
    orders = {i["orderId"]: i for i in report["tables"]["premium-orders"]}
    assert orders["ORD-1001"]["status"] == "shipped"
    assert orders["ORD-1001"]["amount"] == 1500
    assert "ORD-1002" not in orders
    assert len(report["tables"]["premium-idempotency"]) >= 4  # 3 events + 1 notification


def test_a_run_is_metered_after_filtering(dev: Emulator) -> None:
    _run(dev, [_put("MTR-1", "pending", 500, "m@example.com"), _set("MTR-1", status="cancelled")])
    meter = dev.meter
    assert sum(meter.pipes_requests.values()) >= 1  # the insert, forwarded by pipe 1
    assert sum(meter.pipes_filtered_out.values()) >= 3  # the cancel (both), the insert (pipe 2)
    assert sum(meter.lambda_requests.values()) >= 1


class Workload:
    """Writes for `orders` orders and the domain events they must produce, worked out
    from the stream records the writes imply (pipe filters and handler rules restated
    in the simplest terms)."""

    def __init__(self, orders: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.writes: list[dict[str, Any]] = []
        self.items: dict[str, dict[str, Any]] = {}
        self.expected: Counter[str] = Counter()
        self.transitions: set[tuple[str, str, str, str]] = set()
        self.bad_records = 0
        for n in range(orders):
            self._order(f"WL-{n:04d}")

    def _email(self) -> str:
        roll = self.rng.random()
        if roll < 0.08:
            return self.rng.choice(["QA@Test.COM", "load@LOAD.test.com", "a@test.com"])
        if roll < 0.1:
            return "test.com@example.com"  # a real customer: only the domain counts
        return f"buyer{self.rng.randrange(10_000)}@example.com"

    def _amount(self) -> Any:
        roll = self.rng.random()
        if roll < 0.02:
            return "abc"  # bad data: not a number
        if roll < 0.25:
            return self.rng.randrange(1, 101)  # at or below the standard minimum
        if roll < 0.6:
            return self.rng.randrange(101, 1001)
        return Decimal(self.rng.randrange(100_100, 500_000)) / 100

    def _order(self, order_id: str) -> None:
        self._write(_put(order_id, "pending", self._amount(), self._email()))
        plan = self.rng.random()
        if plan < 0.55:
            self._write(_set(order_id, status="shipped"))
            if self.rng.random() < 0.1:
                self._write({"delete": {"key": {"orderId": order_id}}})
        elif plan < 0.7:
            self._write(_set(order_id, status="cancelled"))
        elif plan < 0.82:
            self._write(_set(order_id, status="processing"))
            self._write(_set(order_id, status="shipped"))
        elif plan < 0.9:
            self._write(_set(order_id, amount=self.rng.randrange(50, 3000)))
        elif plan < 0.95:
            self._write(_set(order_id, status="lost"))  # unknown status
            self._write(_set(order_id, status="shipped"))
        else:
            self._write({"delete": {"key": {"orderId": order_id}}})

    def _write(self, write: dict[str, Any]) -> None:
        self.writes.append(write)
        ((operation, body),) = write.items()
        key = (body if operation == "put" else body["key"])["orderId"]
        old = self.items.get(key)
        if operation == "put":
            new: dict[str, Any] | None = dict(body)
        elif operation == "update":
            new = {**(old or body["key"]), **body["set"]}
        else:
            new = None
        if new is None:
            self.items.pop(key, None)
        else:
            self.items[key] = new
        if new is not None:
            self._expect("INSERT" if old is None else "MODIFY", old, new)

    def _expect(self, event: str, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        status, previous = new["status"], (old or {}).get("status")
        standard = status in ("pending", "shipped")
        premium = event == "MODIFY" and (previous, status) == ("pending", "shipped")
        if not (standard or premium):
            return
        if (previous is not None and previous not in KNOWN) or not isinstance(
            new["amount"], int | Decimal
        ):
            self.bad_records += standard + premium
            return
        domain = new["customerEmail"].rsplit("@", 1)[1].lower()
        if domain == "test.com" or domain.endswith(".test.com"):
            return
        amount = Decimal(new["amount"])
        for wanted, kind, minimum in (
            (standard, "OrderAccepted", 100),
            (premium, "PremiumOrderShipped", 1000),
        ):
            transition = (kind, new["orderId"], previous or "", status)
            if wanted and amount > minimum and transition not in self.transitions:
                self.transitions.add(transition)
                self.expected[kind] += 1


def test_a_thousand_orders_every_record_accounted_once(dev: Emulator) -> None:
    workload = Workload(1000)
    report, outcome, fed = _run(dev, workload.writes)

    assert outcome.problems == []  # each record: filtered, published, skipped, or dead-lettered
    assert report["iam_denied"] == []
    assert report["errors"] == []
    assert outcome.records_in == len(fed.records) == len(workload.writes)
    domain = _domain(report)
    assert Counter(e["detail-type"] for e in domain) == workload.expected
    keys = Counter(e["detail"]["idempotencyKey"] for e in domain)
    assert max(keys.values()) == 1
    transitions = Counter(
        (
            e["detail-type"],
            e["detail"]["orderId"],
            e["detail"]["previousStatus"],
            e["detail"]["status"],
        )
        for e in domain
    )
    assert max(transitions.values()) == 1
    # Bad data went to the application DLQ with its reason, the record verbatim.
    assert set(outcome.reasons) == {"invalid_amount", "unknown_status"}
    assert outcome.dead_lettered == workload.bad_records
    letters = [
        b
        for b in report["queues"]["premium-dlq"]
        if b["source"]["eventID"] in {r.event_id for r in fed.records}
    ]
    assert len(letters) == workload.bad_records
    assert all(letter["record"]["eventID"] == letter["source"]["eventID"] for letter in letters)
    assert report["queues"]["premium-standard-pipe-dlq"] == []
    assert report["queues"]["premium-premium-pipe-dlq"] == []
    # Batches of up to 100 filtered records: a few invocations, not one per record.
    assert report["invocations"]["premium-standard"] <= len(fed.records) // 100 + 5


def test_a_redelivery_publishes_nothing_new(dev: Emulator) -> None:
    writes = [
        _put("RPL-1", "pending", 2500, "big@example.com"),
        _set("RPL-1", status="shipped"),
        _put("RPL-2", "pending", 300, "x@Test.com"),
        _put("RPL-3", "pending", "abc", "y@example.com"),
    ]
    first, outcome, fed = _run(dev, writes)
    assert outcome.problems == []
    assert Counter(e["detail-type"] for e in _domain(first)) == {
        "OrderAccepted": 2,
        "PremiumOrderShipped": 1,
    }
    replay = SCENARIO.watch(dev, fed.records)
    mark = Mark.now(dev)
    PipesService.of(dev).replay(from_sequence=str(fed.records[0].sequence))
    dev.run_until_idle()
    again = build_report(dev, SCENARIO.name, SCENARIO.component(dev), mark)
    again = SCENARIO.adjust_report(dev, again, replay)
    assert again["events"] == []
    assert again["errors"] == []
    replayed = SCENARIO.outcome(again, replay)
    assert replayed.problems == []
    assert replayed.stored == 0
    assert "already published 2" in replayed.details[0]  # standard: INSERT and MODIFY
    assert "already published 1" in replayed.details[1]
    assert "SNS notifications 0" in replayed.details[2]
    # The bad record is dead-lettered again, with the same deterministic letter id.
    ids = [b["id"] for b in again["queues"]["premium-dlq"] if b["source"]["orderId"] == "RPL-3"]
    assert len(ids) == 2
    assert len(set(ids)) == 1


@contextmanager
def without_action(dev: Emulator, policy_name: str, action: str) -> Iterator[str]:
    """Remove `action` from a deployed RolePolicy while the block runs; yield the role ARN."""
    state = dev.stack.one("aws:iam/rolePolicy:RolePolicy", policy_name).state
    iam = dev.client("iam")
    role, name = state["role"], state["name"]
    original = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document = json.loads(original) if isinstance(original, str) else original
    for statement in document["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        statement["Action"] = [a for a in actions if a != action] or ["none:NoAction"]
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    try:
        yield str(iam.get_role(RoleName=role)["Role"]["Arn"])
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(original))


def test_a_poison_batch_is_bisected_retried_and_dead_lettered(dev: Emulator) -> None:
    writes = [
        _put("PSN-1", "pending", 1500, "p1@example.com"),  # publishes: fails
        _put("PSN-2", "pending", 50, "p2@example.com"),  # skipped: below the minimum
        _put("PSN-3", "pending", 700, "p3@example.com"),  # publishes: fails
        _set("PSN-1", status="shipped"),  # held back behind PSN-1's failure; pipe 2: ok
    ]
    with without_action(dev, "premium-standard-policy", "events:PutEvents") as role:
        report, outcome, fed = _run(dev, writes)
    sequences = [r.sequence for r in fed.records]

    assert outcome.problems == []  # every record still ends somewhere
    bus = SCENARIO.resource(dev, "aws:cloudwatch/eventBus:EventBus", "bus").state["arn"]
    denied = {(d["principal"], d["action"], d["resource"]) for d in report["iam_denied"]}
    assert denied == {(role, "events:PutEvents", bus)}
    # Bisected down to the failing records, each retried 3 times, then dead-lettered alone
    # with the stream metadata (not the record) AWS sends.
    letters = report["queues"]["premium-standard-pipe-dlq"]
    assert [
        (int(m["DDBStreamBatchInfo"]["startSequenceNumber"]), m["DDBStreamBatchInfo"]["batchSize"])
        for m in letters
    ] == [(sequences[0], 1), (sequences[2], 1), (sequences[3], 1)]
    pipe_arn = SCENARIO.resource(dev, "aws:pipes/pipe:Pipe", "standard-pipe").state["arn"]
    stream = SCENARIO.stream_arn(dev)
    for letter in letters:
        assert letter["context"] == {
            "partnerResourceArn": pipe_arn,
            "condition": "RetryAttemptsExhausted",
        }
        assert letter["DDBStreamBatchInfo"]["streamArn"] == stream
        assert (
            letter["DDBStreamBatchInfo"]["endSequenceNumber"]
            == letter["DDBStreamBatchInfo"]["startSequenceNumber"]
        )
    assert outcome.reasons == {"standard pipe: RetryAttemptsExhausted": 3}
    # Bounded: the batch, two halves, a quarter, then 1 + 3 retries per poison record.
    assert report["invocations"]["premium-standard"] == 1 + 2 + 1 + 3 * 4
    pipe_errors = [e for e in report["errors"] if e["kind"] == "pipe"]
    assert [e["outcome"] for e in pipe_errors] == ["sent to the pipe's DLQ"] * 3
    assert {e["kind"] for e in report["errors"]} == {"pipe"}
    # The premium flow has its own role: it still announced PSN-1.
    assert [(e["detail-type"], e["detail"]["orderId"]) for e in _domain(report)] == [
        ("PremiumOrderShipped", "PSN-1")
    ]


def test_a_misspelt_filter_operator_is_refused(dev: Emulator, tmp_path: Path) -> None:
    from emulator.provision.pipes import pipe
    from emulator.provision.registry import Request
    from emulator.services.pipe_filters import InvalidFilterCriteriaError

    deployed = SCENARIO.resource(dev, "aws:pipes/pipe:Pipe", "standard-pipe")
    inputs = json.loads(json.dumps(deployed.inputs))
    inputs["name"] = "premium-misspelt-pipe"
    inputs["sourceParameters"]["filterCriteria"] = {
        "filters": [
            {"pattern": json.dumps({"dynamodb": {"NewImage": {"status": {"S": [{"prefx": "s"}]}}}})}
        ]
    }
    with pytest.raises(InvalidFilterCriteriaError, match="unknown operator 'prefx'"):
        pipe(dev, Request("aws:pipes/pipe:Pipe", "premium-misspelt-pipe", inputs))


def _pipe_runner(dev: Emulator, role: str) -> PipeRunner:
    name = SCENARIO.resource(dev, "aws:pipes/pipe:Pipe", f"{role}-pipe").state["name"]
    return PipesService.of(dev).runners[name]


def test_a_function_error_fails_the_whole_batch_which_is_bisected(dev: Emulator) -> None:
    function = dev.runtime.get(SCENARIO.resource(dev, FUNCTION, "standard").state["name"])
    handler = function.handler

    def crash(event: Any, context: Any) -> Any:
        raise RuntimeError("boom")

    function.handler = crash
    try:
        report, outcome, fed = _run(
            dev,
            [
                _put("ERR-1", "pending", 500, "e1@example.com"),
                _put("ERR-2", "pending", 600, "e2@example.com"),
            ],
        )
    finally:
        function.handler = handler
    assert outcome.problems == []
    letters = report["queues"]["premium-standard-pipe-dlq"]
    assert [int(m["DDBStreamBatchInfo"]["startSequenceNumber"]) for m in letters[-2:]] == [
        r.sequence for r in fed.records
    ]
    # The pair, then each record alone: 1 + 3 retries.
    assert report["invocations"]["premium-standard"] == 1 + 2 * 4
    lambda_errors = [e for e in report["errors"] if e["kind"] == "lambda"]
    assert len(lambda_errors) == 9
    assert {e["errorType"] for e in lambda_errors} == {"RuntimeError"}
    assert _domain(report) == []


def test_records_older_than_the_maximum_age_are_not_delivered(dev: Emulator) -> None:
    runner = _pipe_runner(dev, "standard")
    config = runner.config
    # The window outlasts the age: by the time the batch is due, its record is too old.
    runner.config = replace(config, batching_window_seconds=300, maximum_record_age_seconds=60)
    try:
        report, outcome, fed = _run(dev, [_put("OLD-1", "pending", 500, "o@example.com")])
    finally:
        runner.config = config
    assert outcome.problems == []
    assert outcome.reasons == {"standard pipe: RecordAgeExceeded": 1}
    (letter,) = [
        m
        for m in report["queues"]["premium-standard-pipe-dlq"]
        if int(m["DDBStreamBatchInfo"]["startSequenceNumber"]) == fed.records[0].sequence
    ]
    assert letter["context"]["condition"] == "RecordAgeExceeded"
    assert report["invocations"]["premium-standard"] == 0
