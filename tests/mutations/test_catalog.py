"""The mutation list stays meaningful: every mutation still applies to the code as it is.

`make mutate` is too slow for `make test`; this check is not. A refactor that moves or
rewrites a mutated line makes its `original` vanish (or repeat) and fails here, instead
of silently turning the mutation into a no-op.
"""

from __future__ import annotations

import glob
from collections import Counter
from pathlib import Path

import pytest

from .catalog import KINDS, MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ("validation", "premium", "late-data", "consolidation")
# Every pipeline gets at least one of each of these (a widened or a removed condition).
REQUIRED = ("drop-record", "swallow-error", "condition", "cut-retry")
# The mutations that survived before the suite caught them (issue 14).
ONCE_SURVIVED = (
    "premium-publish-without-idempotency",
    "late-data-one-reconcile-attempt",
    "late-data-reconcile-twice",
)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_each_mutation_applies_exactly_once(mutation: Mutation) -> None:
    text = (ROOT / mutation.path).read_text(encoding="utf-8")
    assert text.count(mutation.original) == 1, f"{mutation.path} no longer holds it once"
    assert mutation.replacement != mutation.original
    assert mutation.kind in KINDS
    assert mutation.pipeline in PIPELINES
    assert mutation.why.strip()
    for pattern in mutation.tests:
        assert glob.glob(str(ROOT / pattern)), f"{pattern} names no test"


def test_names_are_unique() -> None:
    repeated = [n for n, c in Counter(m.name for m in MUTATIONS).items() if c > 1]
    assert repeated == []


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_every_pipeline_has_each_kind_of_slip(pipeline: str) -> None:
    kinds = {
        m.kind.replace("widen-", "").replace("remove-", "")
        for m in MUTATIONS
        if m.pipeline == pipeline
    }
    assert set(REQUIRED) <= kinds, f"{pipeline} lacks {set(REQUIRED) - kinds}"


def test_the_mutations_that_once_survived_are_listed() -> None:
    names = {m.name for m in MUTATIONS}
    assert set(ONCE_SURVIVED) <= names
    widened = next(m for m in MUTATIONS if m.name == "late-data-reconcile-twice")
    assert "#status = :flagged OR #status = :reconciled" in widened.replacement
