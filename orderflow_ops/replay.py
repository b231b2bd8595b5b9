"""list / inspect / redrive over one dead-letter queue (the CLI is a thin shell on these).

Redrive, per distinct dead-letter id (copies of one failure share it and are redriven
once): plan → (dry run: report and stop) → perform → delete every held copy only when the
pipeline took the work back; otherwise release them, so a failed redrive loses nothing
and can simply be run again. Messages not selected are released untouched.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from orderflow_ops.messages import Letter
from orderflow_ops.queue import DeadLetterQueue
from orderflow_ops.redrivers import Plan, Redriver, plan_for

MIN_ID_PREFIX = 8


@dataclass(frozen=True)
class RedriveReport:
    """What happened to one dead-letter id."""

    id: str
    reason: str
    copies: int
    plan: Plan
    status: str
    """`dry-run`, `skipped`, `redriven` or `failed`."""
    outcome: str = ""
    detail: str = ""
    deleted: int = 0
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "copies": self.copies,
            "status": self.status,
            "outcome": self.outcome,
            "detail": self.detail,
            "deleted": self.deleted,
            "source": self.source,
            **self.plan.describe(),
        }


def id_matches(letter_id: str, wanted: Collection[str]) -> bool:
    """Exact ids, or unambiguous-looking prefixes of at least 8 characters."""
    return any(
        letter_id == w or (len(w) >= MIN_ID_PREFIX and letter_id.startswith(w)) for w in wanted
    )


def list_letters(queue: DeadLetterQueue, *, limit: int | None = None) -> list[Letter]:
    """Every message of the queue, parsed; nothing is consumed."""
    held = queue.receive_all(limit)
    queue.release(held.letters)
    return held.letters


def inspect_letters(queue: DeadLetterQueue, letter_id: str) -> list[Letter]:
    """Every copy of one dead letter (by id or id prefix); nothing is consumed."""
    letters = list_letters(queue)
    return [letter for letter in letters if id_matches(letter.id, [letter_id])]


def redrive(
    queue: DeadLetterQueue,
    redrivers: Sequence[Redriver],
    *,
    ids: Collection[str] = (),
    reasons: Collection[str] = (),
    dry_run: bool = False,
    force: bool = False,
    limit: int | None = None,
) -> list[RedriveReport]:
    """Redrive the selected letters (all when no `ids`/`reasons`), each id once."""
    held = queue.receive_all(limit)
    reports: list[RedriveReport] = []
    deleted: set[str] = set()
    try:
        for letter_id, copies in held.by_id().items():
            selected = (not ids or id_matches(letter_id, ids)) and (
                not reasons or copies[0].reason in reasons
            )
            if selected:
                report, gone = _redrive_one(queue, redrivers, copies, dry_run=dry_run, force=force)
                reports.append(report)
                deleted |= gone
    finally:
        queue.release(
            [
                letter
                for letter in held.letters
                if letter.queued is None or letter.queued.message_id not in deleted
            ]
        )
    return reports


def _redrive_one(
    queue: DeadLetterQueue,
    redrivers: Sequence[Redriver],
    copies: Sequence[Letter],
    *,
    dry_run: bool,
    force: bool,
) -> tuple[RedriveReport, set[str]]:
    first = copies[0]
    plan = plan_for(first, redrivers, force=force)
    common: dict[str, Any] = {
        "id": first.id,
        "reason": first.reason,
        "copies": len(copies),
        "plan": plan,
        "source": dict(first.source),
    }
    if plan.perform is None:
        return RedriveReport(**common, status="skipped", detail=plan.note), set()
    if dry_run:
        return RedriveReport(**common, status="dry-run", detail=plan.note), set()
    try:
        result = plan.perform()
    except Exception as exc:  # an unexpected failure must not lose the letter
        failure = f"{type(exc).__name__}: {exc}"
        return RedriveReport(**common, status="failed", outcome="error", detail=failure), set()
    if not result.ok:
        failed = RedriveReport(
            **common, status="failed", outcome=result.outcome, detail=result.detail
        )
        return failed, set()
    refused = queue.delete(copies)
    gone = {c.queued.message_id for c in copies if c.queued is not None} - set(refused)
    report = RedriveReport(
        **common,
        status="redriven" if not refused else "failed",
        outcome=result.outcome,
        detail=result.detail
        if not refused
        else f"redriven, but SQS did not delete {refused}: redriving again is safe",
        deleted=len(gone),
    )
    return report, gone
