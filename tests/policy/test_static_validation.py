"""Offline validators over every definition, document and pattern of the dev stack.

statelint reads each state machine, parliament each IAM document, and our own grammar
plus moto's matcher each event pattern and pipe filter. Resources are found by type, so a
component added to the stack is validated without touching this file; a suppression that
no longer matches anything fails, so none outlives its reason.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from event_patterns import PIPE, RULE, problems
from guardrails_support import ROOT
from moto.events.models import EventPattern
from orderflow_policy import tokens as t
from orderflow_policy.documents import DOCUMENT_PROPS, Kind, resources
from orderflow_policy.least_privilege import UNSCOPABLE_ACTIONS
from parliament import analyze_policy_string

from components.premium_order_pipe import DEFAULT_ACCEPTED_STATUSES
from components.validation_pipeline import DEFAULT_KEY_PREFIX, DEFAULT_KEY_SUFFIXES
from emulator.program import Recorded, Stack, stack_config

# --- Step Functions: statelint -------------------------------------------------------------


@dataclass(frozen=True)
class StatelintSuppression:
    """An ItemReader.ReaderConfig field AWS documents but statelint 3.1 does not know."""

    field: str
    reason: str

    def matches(self, problem: str) -> bool:
        pattern = rf'Field "{re.escape(self.field)}" not allowed in State Machine\.States\..+'
        return re.fullmatch(pattern + r"\.ItemReader\.ReaderConfig", problem) is not None


STATELINT_SUPPRESSIONS = (
    StatelintSuppression(
        "InputType",
        "Distributed Map ItemReader input format (CSV, JSON, JSONL, PARQUET, MANIFEST) in "
        "the ASL spec's ReaderConfig; statelint 3.1 predates it",
    ),
    StatelintSuppression(
        "CSVHeaderLocation",
        "FIRST_ROW or GIVEN for CSV item readers (AWS Step Functions ItemReader docs)",
    ),
)
# No `ItemsPointer`: it is unverified (STEP_FUNCTIONS_READER_ITEMS_POINTER), so no generated
# workflow may use it, and statelint reporting it would fail this test.
MAX_RETRY_ATTEMPTS = 10  # per retrier; bounds the cost of a persistent failure


def statelint(definition: str, tmp_path: Path, name: str) -> list[str]:
    path = tmp_path / f"{name}.asl.json"
    path.write_text(definition)
    result = subprocess.run(
        [sys.executable, "-m", "statelint", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return [line.strip() for line in result.stdout.splitlines() if line.startswith(" ")]


def test_statelint_reports_what_it_should(tmp_path: Path) -> None:
    """The linter runs and its output is read: a broken definition is reported."""
    broken = {"StartAt": "Missing", "States": {"Only": {"Type": "Pass", "Bogus": 1, "End": True}}}
    found = statelint(json.dumps(broken), tmp_path, "broken")
    assert any("Bogus" in p for p in found), found
    assert any("Missing" in p for p in found), found


def test_every_state_machine_passes_statelint(checked_stack: Stack, tmp_path: Path) -> None:
    machines = checked_stack.of_type(t.STATE_MACHINE)
    assert machines
    unexplained: list[tuple[str, str]] = []
    used: set[str] = set()
    for machine in machines:
        for problem in statelint(machine.inputs["definition"], tmp_path, machine.name):
            match = next((s for s in STATELINT_SUPPRESSIONS if s.matches(problem)), None)
            if match is None:
                unexplained.append((machine.name, problem))
            else:
                used.add(match.field)
    assert unexplained == []
    stale = {s.field for s in STATELINT_SUPPRESSIONS} - used
    assert not stale, f"statelint no longer reports {stale}: remove these suppressions"


def states(definition: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, nested Map processors and Parallel branches included."""
    for name, state in definition.get("States", {}).items():
        where = f"{path}{name}"
        yield where, state
        for nested in (state.get("ItemProcessor"), state.get("Iterator")):
            if isinstance(nested, Mapping):
                yield from states(nested, f"{where}.")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from states(branch, f"{where}[{index}].")


def test_every_workflow_bounds_its_concurrency_and_retries(checked_stack: Stack) -> None:
    """Denial of wallet: no Map runs unbounded, no retrier retries without end."""
    maps = retriers = 0
    for machine in checked_stack.of_type(t.STATE_MACHINE):
        for where, state in states(json.loads(machine.inputs["definition"])):
            if state["Type"] == "Map":
                maps += 1
                assert state.get("MaxConcurrency", 0) >= 1, (machine.name, where)
            for retrier in state.get("Retry", []):
                retriers += 1
                assert 0 <= retrier.get("MaxAttempts", -1) <= MAX_RETRY_ATTEMPTS, (where, retrier)
    assert maps
    assert retriers


# --- IAM: parliament -----------------------------------------------------------------------

STREAM_ACTIONS = frozenset(
    {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
)


def stream_labels_have_colons(document: Mapping[str, Any]) -> bool:
    """Real DynamoDB stream ARNs end in a timestamp label (…/stream/2026-01-01T00:00:00.000)."""
    arns = [r for s in statement_list(document) for r in resources(s) if "/stream/" in r]
    return bool(arns) and all(":" in arn.split("/stream/", 1)[1] for arn in arns)


@dataclass(frozen=True)
class ParliamentSuppression:
    """One kind of parliament finding, on one kind of document, that is expected and why."""

    name: str
    issue: str
    kinds: frozenset[Kind]
    reason: str
    covers: Callable[[Any, Mapping[str, Any]], bool] = lambda entry, document: True
    open_finding: bool = False
    """A real problem owned elsewhere (see the report), listed until it is fixed."""


PARLIAMENT_SUPPRESSIONS = (
    ParliamentSuppression(
        "trust-policies-have-no-resource",
        "MALFORMED",
        frozenset({"trust"}),
        "parliament reads every document as an identity policy; a trust policy is the "
        "role's resource policy and must not name a Resource",
        covers=lambda entry, _: entry == "Statement contains neither Resource nor NotResource",
    ),
    ParliamentSuppression(
        "key-policies-name-this-key-as-star",
        "RESOURCE_STAR",
        frozenset({"key"}),
        'in a KMS key policy "Resource": "*" means the key the policy is attached to',
    ),
    ParliamentSuppression(
        "lambda-vpc-network-interfaces",
        "RESOURCE_STAR",
        frozenset({"identity"}),
        "Lambda creates and deletes the ENIs of a VPC function itself; AWS's own "
        "AWSLambdaVPCAccessExecutionRole grants these EC2 actions on *",
        covers=lambda entry, _: (
            str(entry).startswith("ec2:") and str(entry).lower() in UNSCOPABLE_ACTIONS
        ),
    ),
    ParliamentSuppression(
        "dynamodb-stream-labels-contain-colons",
        "RESOURCE_MISMATCH",
        frozenset({"identity"}),
        "parliament 1.6.4 splits ARNs on ':' and so cannot match a real stream label "
        "(2026-01-01T00:00:00.000) against table/*/stream/*; the grant is correct",
        covers=lambda entry, document: (
            entry.get("action") in STREAM_ACTIONS and stream_labels_have_colons(document)
        ),
    ),
)


def statement_list(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def policy_documents(stack: Stack) -> Iterator[tuple[Recorded, str, Kind, str]]:
    """(resource, prop, kind, JSON) for every IAM document in the stack, found by type."""
    for resource in stack:
        for prop, kind in DOCUMENT_PROPS.get(resource.type, ()):
            if isinstance(resource.inputs.get(prop), str):
                yield resource, prop, kind, resource.inputs[prop]
        for inline in resource.inputs.get("inlinePolicies", []) if resource.type == t.ROLE else []:
            yield resource, f"inlinePolicies[{inline.get('name')}]", "identity", inline["policy"]


def test_every_policy_document_passes_parliament(checked_stack: Stack) -> None:
    unexplained: list[tuple[str, str, str, Any]] = []
    used: set[str] = set()
    kinds: set[Kind] = set()
    for resource, prop, kind, text in policy_documents(checked_stack):
        kinds.add(kind)
        document = json.loads(text)
        for finding in analyze_policy_string(text).findings:
            entries = finding.detail if isinstance(finding.detail, list) else [finding.detail]
            for entry in entries:
                match = next(
                    (
                        s
                        for s in PARLIAMENT_SUPPRESSIONS
                        if s.issue == finding.issue
                        and kind in s.kinds
                        and s.covers(entry, document)
                    ),
                    None,
                )
                if match is None:
                    unexplained.append((resource.name, prop, finding.issue, entry))
                else:
                    used.add(match.name)
    assert kinds == {"identity", "trust", "resource", "key"}
    assert unexplained == []
    stale = {s.name for s in PARLIAMENT_SUPPRESSIONS} - used
    assert not stale, f"parliament no longer reports {stale}: remove these suppressions"


def test_parliament_reports_bad_documents() -> None:
    """Parliament runs and is read: an unknown action, and a write on every resource."""

    def issues(action: str) -> set[str]:
        statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
        document = {"Version": "2012-10-17", "Statement": [statement]}
        return {f.issue for f in analyze_policy_string(json.dumps(document)).findings}

    assert "UNKNOWN_ACTION" in issues("s3:GetObjekt")
    assert "RESOURCE_STAR" in issues("sqs:SendMessage")


# --- EventBridge patterns and Pipes filters ------------------------------------------------


def matches(pattern: str | Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    return bool(EventPattern.load(text).matches_event(cast(Any, event)))


def rule_patterns(stack: Stack) -> list[tuple[Recorded, dict[str, Any]]]:
    return [(r, json.loads(r.inputs["eventPattern"])) for r in stack.of_type(t.EVENT_RULE)]


def pipe_filters(stack: Stack) -> list[tuple[Recorded, list[dict[str, Any]]]]:
    return [
        (
            pipe,
            [
                json.loads(f["pattern"])
                for f in pipe.inputs["sourceParameters"]["filterCriteria"]["filters"]
            ],
        )
        for pipe in stack.of_type(t.PIPE)
    ]


def test_patterns_and_filters_use_only_operators_their_service_knows(checked_stack: Stack) -> None:
    rules, pipes = rule_patterns(checked_stack), pipe_filters(checked_stack)
    assert rules
    assert pipes
    found = [(r.name, p) for r, pattern in rules for p in problems(pattern, RULE)]
    found += [(r.name, p) for r, filters in pipes for f in filters for p in problems(f, PIPE)]
    assert found == []


def test_the_grammar_catches_what_moto_would_silently_match() -> None:
    misspelt = {"source": [{"prefx": "orders."}]}
    assert matches(misspelt, {"source": "anything.at.all"})  # why we check names ourselves
    (problem,) = problems(misspelt, RULE)
    assert "'prefx' is not an operator" in problem
    seed_filter = {
        "dynamodb": {
            "NewImage": {"customerEmail": {"S": [{"anything-but": {"wildcard": "*test.com*"}}]}}
        }
    }
    assert problems(seed_filter, RULE) == []
    (pipe_problem,) = problems(seed_filter, PIPE)
    assert "anything-but/wildcard is not supported by a pipe filter" in pipe_problem
    assert problems({"a": [{"wildcard": "x*"}]}, PIPE)
    assert problems({"a": [{"numeric": [">", "5"]}]}, RULE)
    assert problems({"a": "x"}, RULE)
    assert problems({"$or": [{"a": ["x"]}]}, RULE)
    ok = {"$or": [{"a": [{"numeric": [">", 0, "<=", 5]}]}, {"b": [{"exists": False}]}]}
    assert problems(ok, RULE) == []


def validation_settings() -> tuple[str, list[str]]:
    settings = stack_config(ROOT).get("orderflow:validation") or {}
    return (
        settings.get("keyPrefix", DEFAULT_KEY_PREFIX),
        list(settings.get("keySuffixes", DEFAULT_KEY_SUFFIXES)),
    )


def s3_event(bucket: str, key: str, detail_type: str = "Object Created") -> dict[str, Any]:
    """An S3 → EventBridge notification as AWS sends it to the default bus."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-22T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 512, "etag": "b1946ac9", "sequencer": "00617F"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject",
        },
    }


def s3_samples(stack: Stack, pattern: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    (bucket,) = pattern["detail"]["bucket"]["name"]
    assert bucket in {b.state["bucket"] for b in stack.of_type(t.BUCKET)}
    prefix, suffixes = validation_settings()
    # The rule selects the prefix; InspectFile checks the suffix, ignoring case (a
    # case-sensitive wildcard would drop ORDERS.JSON), and ends other keys as `ignored`.
    positive = [
        s3_event(bucket, f"{prefix}{stem}{case(suffix)}")
        for suffix in suffixes
        for stem in ("mock-data", "2026/11/22/orders", "my+file")
        for case in (str, str.upper)
    ]
    negative = [
        s3_event(bucket, f"other/mock-data{suffixes[0]}"),
        s3_event(bucket, f"archive/{prefix}mock-data{suffixes[0]}"),
        s3_event("someone-elses-bucket", f"{prefix}mock-data{suffixes[0]}"),
        s3_event(bucket, f"{prefix}mock-data{suffixes[0]}", detail_type="Object Deleted"),
    ]
    return positive, negative


def late_record_samples() -> tuple[list[Any], list[Any]]:
    seed = [
        e["event"]
        for e in json.loads((ROOT / "samples/late-data/seed-events.json").read_text())
        if "event" in e
    ]
    negative = [
        seed[0] | {"source": "orders.other"},
        seed[0] | {"detail-type": "on.time.record"},
        seed[0] | {"source": "aws.s3", "detail-type": "Object Created"},
    ]
    return seed, negative


def test_every_rule_matches_its_samples_and_nothing_else(checked_stack: Stack) -> None:
    """Samples are chosen by what a rule listens to (its `source`), not by its name."""
    rules = rule_patterns(checked_stack)
    assert rules
    for rule, pattern in rules:
        sources = set(pattern.get("source", []))
        if sources == {"aws.s3"}:
            positive, negative = s3_samples(checked_stack, pattern)
        elif "late.record" in pattern.get("detail-type", []):
            positive, negative = late_record_samples()
        else:
            pytest.fail(f"no sample events for rule {rule.name} ({sources}): add them here")
        for event in positive:
            assert matches(pattern, event), (rule.name, event["detail-type"], event.get("detail"))
        for event in negative:
            assert not matches(pattern, event), (
                rule.name,
                event["detail-type"],
                event.get("detail"),
            )


def stream_record(
    event_name: str, new: str | None, old: str | None, email: str = "vip@example.com"
) -> dict[str, Any]:
    """The seed's stream record (pending → shipped) with other statuses, event and email."""
    seed = json.loads((ROOT / "samples/premium/seed-stream-record.json").read_text())[0]
    record: dict[str, Any] = copy.deepcopy(seed)
    record["eventName"] = event_name
    for image, status in (("NewImage", new), ("OldImage", old)):
        if status is None:
            record["dynamodb"].pop(image)
        else:
            record["dynamodb"][image]["status"] = {"S": status}
            record["dynamodb"][image]["customerEmail"] = {"S": email}
    return record


STREAM_SAMPLES = {
    "insert pending": stream_record("INSERT", "pending", None),
    "insert shipped": stream_record("INSERT", "shipped", None),
    "insert cancelled": stream_record("INSERT", "cancelled", None),
    "modify pending to shipped (the seed)": stream_record("MODIFY", "shipped", "pending"),
    "modify shipped to shipped": stream_record("MODIFY", "shipped", "shipped"),
    "modify shipped to delivered": stream_record("MODIFY", "delivered", "shipped"),
    "modify pending to processing": stream_record("MODIFY", "processing", "pending"),
    "remove pending": stream_record("REMOVE", None, "pending"),
    "test customer insert": stream_record("INSERT", "pending", None, "qa@test.com"),
    "test customer pending to shipped": stream_record(
        "MODIFY", "shipped", "pending", "QA@Sub.Test.COM"
    ),
}


def premium_settings() -> tuple[list[str], str, str]:
    settings = stack_config(ROOT).get("orderflow:premium") or {}
    return (
        list(settings.get("acceptedStatuses", DEFAULT_ACCEPTED_STATUSES)),
        settings.get("premiumFromStatus", "pending"),
        settings.get("premiumToStatus", "shipped"),
    )


def expected_by_status_filter(record: Mapping[str, Any]) -> bool:
    accepted, _, _ = premium_settings()
    new = record["dynamodb"].get("NewImage", {}).get("status", {}).get("S")
    return record["eventName"] in ("INSERT", "MODIFY") and new in accepted


def expected_by_transition_filter(record: Mapping[str, Any]) -> bool:
    _, old_status, new_status = premium_settings()
    images = record["dynamodb"]
    old = images.get("OldImage", {}).get("status", {}).get("S")
    new = images.get("NewImage", {}).get("status", {}).get("S")
    return record["eventName"] == "MODIFY" and (old, new) == (old_status, new_status)


def test_every_pipe_filter_forwards_exactly_the_records_it_should(checked_stack: Stack) -> None:
    """Filters are classified by shape: one comparing old and new images is a transition.

    Test customers pass both filters on purpose: Pipes cannot match email domains without
    case (AWS-FACTS.md), so the handlers drop them (tested under tests/runtime).
    """
    pipes = pipe_filters(checked_stack)
    assert pipes
    for pipe, filters in pipes:
        transition = any("OldImage" in f.get("dynamodb", {}) for f in filters)
        expected = expected_by_transition_filter if transition else expected_by_status_filter
        outcomes = set()
        for sample, record in STREAM_SAMPLES.items():
            forwarded = any(matches(f, record) for f in filters)
            assert forwarded == expected(record), (pipe.name, sample)
            outcomes.add(forwarded)
        assert outcomes == {True, False}, pipe.name
        assert any(matches(f, STREAM_SAMPLES["test customer pending to shipped"]) for f in filters)
