"""The mutations `make mutate` applies, one at a time, to a scratch copy of the tree.

Each is an exact-text replacement in one product file: the kind of one-line slip that
loses, duplicates or strands a record (drop a record, swallow an error, widen or remove a
condition, cut a retry, bypass idempotency). Each must make the named tests fail. The
`original` must occur exactly once in its file (`test_catalog.py` checks it), so a refactor
cannot silently turn a mutation into a no-op: update the mutation with the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Mutation:
    """One targeted change and the tests that must catch it."""

    name: str
    pipeline: str
    kind: str
    """One of KINDS: what sort of slip it is."""
    path: str
    original: str
    replacement: str
    why: str
    """What a user would see if this shipped."""
    tests: tuple[str, ...]
    """Test paths (globs allowed) run against the mutated copy."""


KINDS: Final = frozenset(
    {
        "drop-record",
        "swallow-error",
        "widen-condition",
        "remove-condition",
        "cut-retry",
        "bypass-idempotency",
    }
)

VALIDATION_TESTS: Final = (
    "tests/runtime/test_validation_*.py",
    "tests/faults/test_faults_validation.py",
    "tests/faults/test_races_validation.py",
    "tests/emulator/test_emulator_validation_e2e.py",
)
PREMIUM_TESTS: Final = (
    "tests/runtime/orders",
    "tests/faults/test_faults_premium*.py",
    "tests/faults/test_races_premium.py",
    "tests/emulator/test_emulator_premium_e2e.py",
)
LATE_DATA_TESTS: Final = (
    "tests/runtime/reconciliation",
    "tests/faults/test_faults_late_data.py",
    "tests/faults/test_races_late_data.py",
    "tests/emulator/test_emulator_late_data_e2e.py",
)
CONSOLIDATION_TESTS: Final = (
    "tests/runtime/consolidation",
    "tests/faults/test_faults_consolidation.py",
    "tests/faults/test_races_consolidation.py",
    "tests/emulator/test_emulator_consolidation_e2e.py",
)

MUTATIONS: Final[tuple[Mutation, ...]] = (
    # validation ------------------------------------------------------------------------
    Mutation(
        name="validation-drop-first-dead-letter",
        pipeline="validation",
        kind="drop-record",
        path="runtime/common/dead_letter.py",
        original="for chunk in chunk_for_sqs(letters):",
        replacement="for chunk in chunk_for_sqs(letters[1:]):",
        why="the first dead letter of every send is never delivered: a rejected record vanishes",
        tests=VALIDATION_TESTS,
    ),
    Mutation(
        name="validation-swallow-undelivered-letters",
        pipeline="validation",
        kind="swallow-error",
        path="runtime/common/dead_letter.py",
        original="if fatal or undelivered:",
        replacement="if fatal:",
        why="dead letters SQS kept refusing are dropped and the batch reports success",
        tests=VALIDATION_TESTS,
    ),
    Mutation(
        name="validation-one-attempt-per-write",
        pipeline="validation",
        kind="cut-retry",
        path="runtime/validation/handler.py",
        original="RETRY = RetryPolicy()",
        replacement="RETRY = RetryPolicy(max_attempts=1)",
        why="one throttled BatchWriteItem or SendMessageBatch fails the batch instead of retrying",
        tests=VALIDATION_TESTS,
    ),
    Mutation(
        name="validation-no-item-rule-check",
        pipeline="validation",
        kind="remove-condition",
        path="runtime/validation/batch.py",
        original="if unstorable is not None:",
        replacement="if False:",
        why="an item DynamoDB refuses is sent with its neighbours and fails their batch",
        tests=VALIDATION_TESTS,
    ),
    # premium ---------------------------------------------------------------------------
    Mutation(
        name="premium-publish-without-idempotency",
        pipeline="premium",
        kind="bypass-idempotency",
        path="runtime/orders/handler.py",
        original=(
            'EVENT, decision.idempotency_key, lambda: {"eventId": rt.publisher.put_event(entry)}'
        ),
        replacement=(
            "EVENT, decision.idempotency_key + os.urandom(8).hex(), lambda: "
            '{"eventId": rt.publisher.put_event(entry)}'
        ),
        why=(
            "a retried record (e.g. its SNS publish failed after PutEvents) publishes the "
            "domain event again under a new idempotency record"
        ),
        tests=PREMIUM_TESTS,
    ),
    Mutation(
        name="premium-notify-without-idempotency",
        pipeline="premium",
        kind="bypass-idempotency",
        path="runtime/orders/handler.py",
        original="            NOTIFICATION,\n            decision.idempotency_key,",
        replacement=(
            "            NOTIFICATION,\n            decision.idempotency_key + os.urandom(8).hex(),"
        ),
        why="a record retried after its SNS publish failed, or redelivered, notifies again",
        tests=PREMIUM_TESTS,
    ),
    Mutation(
        name="premium-failures-not-reported-for-retry",
        pipeline="premium",
        kind="swallow-error",
        path="runtime/orders/handler.py",
        original="                report.failed_event_ids.append(event_id)",
        replacement="                pass",
        why="a record whose publish failed is acknowledged to Pipes and never retried",
        tests=PREMIUM_TESTS,
    ),
    Mutation(
        name="premium-one-publish-attempt",
        pipeline="premium",
        kind="cut-retry",
        path="runtime/orders/handler.py",
        original="PUBLISH_RETRY = RetryPolicy(max_attempts=3)",
        replacement="PUBLISH_RETRY = RetryPolicy(max_attempts=1)",
        why="one throttled PutEvents entry fails the record instead of being retried in place",
        tests=PREMIUM_TESTS,
    ),
    Mutation(
        name="premium-threshold-inclusive",
        pipeline="premium",
        kind="widen-condition",
        path="runtime/orders/domain.py",
        original=(
            "    if not change.amount > rules.min_amount:\n"
            '        return Skip(BELOW_THRESHOLD, f"amount {change.amount} is not above '
            '{rules.min_amount}")\n'
            "    return _publish(PREMIUM_ORDER_SHIPPED, change)"
        ),
        replacement=(
            "    if not change.amount >= rules.min_amount:\n"
            '        return Skip(BELOW_THRESHOLD, f"amount {change.amount} is not above '
            '{rules.min_amount}")\n'
            "    return _publish(PREMIUM_ORDER_SHIPPED, change)"
        ),
        why="an order of exactly the threshold is published as premium",
        tests=PREMIUM_TESTS,
    ),
    Mutation(
        name="premium-drop-dead-letter",
        pipeline="premium",
        kind="drop-record",
        path="runtime/orders/handler.py",
        original="    rt.dead_letters.send([letter])\n    logger.warning(",
        replacement="    logger.warning(",
        why="a malformed stream record is logged as dead-lettered but never sent anywhere",
        tests=PREMIUM_TESTS,
    ),
    # late data -------------------------------------------------------------------------
    Mutation(
        name="late-data-one-reconcile-attempt",
        pipeline="late-data",
        kind="cut-retry",
        path="runtime/reconciliation/handler.py",
        original="TRANSACT_RETRY = RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=2.0)",
        replacement="TRANSACT_RETRY = RetryPolicy(max_attempts=1, base_delay=0.1, max_delay=2.0)",
        why="one conflicting or throttled reconcile transaction fails the step at once",
        tests=LATE_DATA_TESTS,
    ),
    Mutation(
        name="late-data-reconcile-twice",
        pipeline="late-data",
        kind="widen-condition",
        path="runtime/reconciliation/ledger.py",
        original='"ConditionExpression": "#status = :flagged",',
        replacement='"ConditionExpression": "#status = :flagged OR #status = :reconciled",',
        why="a redelivered or swept entry adds its amount to the day's total a second time",
        tests=LATE_DATA_TESTS,
    ),
    Mutation(
        name="late-data-flag-overwrites",
        pipeline="late-data",
        kind="remove-condition",
        path="runtime/reconciliation/ledger.py",
        original='ConditionExpression="attribute_not_exists(pk)",',
        replacement='ConditionExpression="attribute_not_exists(pk) OR attribute_exists(pk)",',
        why="a duplicate late record replaces the first arrival's ledger entry",
        tests=LATE_DATA_TESTS,
    ),
    Mutation(
        name="late-data-swallow-flag-error",
        pipeline="late-data",
        kind="swallow-error",
        path="runtime/reconciliation/ledger.py",
        original=(
            "            if error_code(exc) != CONDITION_FAILED:\n"
            "                raise\n"
            '            old = getattr(exc, "response", {}).get("Item")\n'
            "            stored = from_item(old) if old else self.get(entry.key)"
        ),
        replacement=(
            "            if error_code(exc) != CONDITION_FAILED:\n"
            "                return True, entry\n"
            '            old = getattr(exc, "response", {}).get("Item")\n'
            "            stored = from_item(old) if old else self.get(entry.key)"
        ),
        why="a failed ledger write reports the record flagged: it is in no place at all",
        tests=LATE_DATA_TESTS,
    ),
    Mutation(
        name="late-data-drop-rejected-record",
        pipeline="late-data",
        kind="drop-record",
        path="runtime/reconciliation/handler.py",
        original='    rt.dead_letters.send([letter])\n    _count("LateRecordsRejected")',
        replacement='    _count("LateRecordsRejected")',
        why="a rejected late record is reported dead-lettered but never sent to the queue",
        tests=LATE_DATA_TESTS,
    ),
    # consolidation ---------------------------------------------------------------------
    Mutation(
        name="consolidation-skip-first-chargeback",
        pipeline="consolidation",
        kind="drop-record",
        path="runtime/consolidation/updates.py",
        original="for identifier, outcome in pool.map(one, ids):",
        replacement="for identifier, outcome in pool.map(one, ids[1:]):",
        why="the first chargeback of every fan-out batch is never updated",
        tests=CONSOLIDATION_TESTS,
    ),
    Mutation(
        name="consolidation-swallow-failed-updates",
        pipeline="consolidation",
        kind="swallow-error",
        path="runtime/consolidation/handler.py",
        original="    if results.failed:\n        raise UpdatesFailedError(",
        replacement="    if results.failed and False:\n        raise UpdatesFailedError(",
        why="chargebacks whose update kept failing are dropped and the Map never retries them",
        tests=CONSOLIDATION_TESTS,
    ),
    Mutation(
        name="consolidation-one-attempt",
        pipeline="consolidation",
        kind="cut-retry",
        path="runtime/consolidation/handler.py",
        original="RETRY = RetryPolicy()",
        replacement="RETRY = RetryPolicy(max_attempts=1)",
        why="one throttled UpdateItem or SendMessageBatch fails the whole batch",
        tests=CONSOLIDATION_TESTS,
    ),
    Mutation(
        name="consolidation-older-job-overwrites",
        pipeline="consolidation",
        kind="widen-condition",
        path="runtime/consolidation/updates.py",
        original='"attribute_exists(chargeback_id) AND "',
        replacement='"attribute_exists(chargeback_id) OR "',
        why="an older consolidation (or a replay) overwrites a newer one's chargeback data",
        tests=CONSOLIDATION_TESTS,
    ),
)
