"""The emulator: moto in process, a deployed stack, and one work queue that moves data.

Everything that happens asynchronously in AWS (an S3 event reaching EventBridge, a rule
delivering to its target, a Step Functions execution, an asynchronous Lambda
invocation, a retry later on) is a job on one queue, ordered by a virtual clock: jobs
run in the order they become due, and when only future jobs are left the clock jumps
forward instead of sleeping. Sources that AWS polls (a DynamoDB stream behind a pipe, a
Kafka topic behind an event source mapping, a schedule) plug in as pollers: when the
queue is empty, `run_until_idle` asks each poller for work until none has any.

With `interleave=SEED` the jobs that are due together (everything due now that was
submitted without a delay, plus the earliest job) run as one wave of concurrent units
under a seeded scheduler (`emulator.interleave`): they interleave at every AWS call, as
AWS's concurrent deliveries, executions and invocations do, and the seed reproduces the
interleaving. Without it, jobs run one at a time in due order, as before. A DynamoDB
stream read by a pipe is dealt into `stream_shards` virtual shards (moto's streams have
one), each with its own batch in flight: several when interleaving, so batches of
different shards run side by side as on AWS.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol

import boto3
from moto import mock_aws

from emulator.deploy import deploy_program, deploy_stack
from emulator.iam.guard import IamGuard, acting_as
from emulator.interleave import Interleaver, StateHook
from emulator.lambdas.runtime import FUNCTION_OUTPUT, LambdaRuntime
from emulator.metering import Meter
from emulator.program import REGION, Stack, Transformation
from emulator.services import dynamodb_transactions, dynamodb_updates, sqs
from emulator.services.awslambda import LambdaService
from emulator.services.dynamodb_limits import DynamoDBLimits
from emulator.services.eventbridge import EventBridge
from emulator.services.kafka import KafkaService
from emulator.services.scheduler import Scheduler
from emulator.services.stepfunctions import StepFunctions

REPO_ROOT = Path(__file__).resolve().parent.parent
STREAM_SHARDS_INTERLEAVED: Final = 4
"""Virtual shards per DynamoDB stream when interleaving and not told otherwise (AWS
decides a stream's shard count; a few are enough for batches of different items to race)."""


class Poller(Protocol):
    """A source AWS polls; `poll` submits jobs for what is new and says if it found any."""

    def poll(self, emulator: Emulator) -> bool: ...


class VirtualClock:
    """Wall-clock time plus however far the emulator has jumped ahead (no sleeping)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance_to(self, moment: float) -> None:
        self.offset += max(0.0, moment - self.now())


@dataclass(order=True)
class _Job:
    due: float
    sequence: int
    description: str = field(compare=False)
    run: Callable[[], None] = field(compare=False)
    delayed: bool = field(default=False, compare=False)


class Emulator:
    """One emulated AWS account: use as a context manager, `deploy`, feed, `run_until_idle`.

    Only one may be open per process (moto's backends are process-wide). `interleave`
    (a seed) runs concurrent work interleaved at AWS calls (see the module docstring);
    None runs everything one at a time in due order. `express_at_least_once` (with
    `interleave`) lets the seed run some Express Map children twice, as AWS may.
    `stream_shards`: how many shards a pipe's DynamoDB stream has (records of one item
    always in the same one); default 1, or `STREAM_SHARDS_INTERLEAVED` when interleaving.
    """

    _open: Emulator | None = None

    def __init__(
        self,
        *,
        seed: int = 0,
        interleave: int | None = None,
        express_at_least_once: bool = False,
        stream_shards: int | None = None,
    ) -> None:
        if stream_shards is not None and stream_shards < 1:
            raise ValueError(f"stream_shards must be at least 1, not {stream_shards}")
        self.seed = seed
        self.stream_shards = stream_shards or (
            STREAM_SHARDS_INTERLEAVED if interleave is not None else 1
        )
        self.clock = VirtualClock()
        self.meter = Meter()
        self.dynamodb_limits = DynamoDBLimits(self.clock.now)  # AWS's item rules, conflicts
        self.errors: list[dict[str, Any]] = []
        self.guard = IamGuard(on_unmapped=lambda message: self.error("iam", message=message))
        self.guard.watchers.append(self.meter.watch_call)
        self.runtime = LambdaRuntime(seed=seed, wall_clock=self.clock.now)  # virtual "now"
        self.lambdas = LambdaService(self)
        self.events = EventBridge(self)
        self.states = StepFunctions(self)
        self.pollers: list[Poller] = []
        self.scheduler = Scheduler(self)  # EventBridge Scheduler: fires schedules on the clock
        self.pollers.append(self.scheduler)
        self.kafka = KafkaService(self)  # topics and MSK mappings; polls once one exists
        self.stack = Stack([])
        self.workdir = Path(tempfile.mkdtemp(prefix="orderflow-emulator-"))
        self._queue: list[_Job] = []
        self._sequence = itertools.count()
        self._exit = contextlib.ExitStack()
        self._clients: dict[str, Any] = {}
        self.interleaver: Interleaver | None = None
        if interleave is not None:
            self.interleaver = Interleaver(
                interleave,
                owned_modules=self._archive_module,
                extra_state=_LOG_STACK,
                express_at_least_once=express_at_least_once,
            )
        elif express_at_least_once:
            raise ValueError("express_at_least_once needs interleave=SEED (the seed decides)")

    def _archive_module(self, name: str) -> bool:
        """A module of some function's archive (swapped per invocation, so per unit)."""
        top = name.split(".", 1)[0]
        return any(top in function.modules.names for function in self.runtime.functions.values())

    # lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Emulator:
        if Emulator._open is not None:
            raise RuntimeError("an Emulator is already open in this process; close it first")
        Emulator._open = self
        try:
            self._exit.enter_context(mock_aws())
            if self.interleaver is not None:
                self.interleaver.install()
                self._exit.callback(self.interleaver.uninstall)
            self.guard.install()
            self._exit.callback(self.guard.uninstall)
            patches = [*sqs.patches(), *self.guard.patches()]
            patches += dynamodb_updates.patches()  # moto's UpdateItem without its AST cost
            patches += dynamodb_transactions.patches()  # without whole-table copies
            patches += self.dynamodb_limits.patches()  # after those two: wraps them
            for service in (self.lambdas, self.events, self.states):
                patches += service.patches()
            for patch in patches:
                self._exit.enter_context(patch)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._exit.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if Emulator._open is self:
            Emulator._open = None

    # deploying -----------------------------------------------------------------------
    def deploy(
        self,
        root: Path = REPO_ROOT,
        stack: str = "dev",
        *,
        transformations: Sequence[Transformation] = (),
    ) -> Stack:
        """Run `<root>/__main__.py` with `Pulumi.<stack>.yaml`, creating every resource."""
        deployed = deploy_stack(self, root, stack, transformations=transformations)
        self.stack = Stack([*self.stack, *deployed], {**self.stack.outputs, **deployed.outputs})
        return self.stack

    def deploy_program(
        self,
        program: Callable[[], Any],
        config: Mapping[str, Any] | None = None,
        *,
        transformations: Sequence[Transformation] = (),
    ) -> Stack:
        """Deploy any Pulumi program function (tests use small ones)."""
        deployed = deploy_program(self, program, config, transformations=transformations)
        self.stack = Stack([*self.stack, *deployed], {**self.stack.outputs, **deployed.outputs})
        return self.stack

    def client(self, service: str) -> Any:
        """A boto3 client for the emulator's own calls (made with no principal: unchecked)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=REGION)
        return self._clients[service]

    # the work queue ------------------------------------------------------------------
    def submit(self, description: str, run: Callable[[], None], *, delay: float = 0.0) -> None:
        """Queue `run` to happen `delay` virtual seconds from now."""
        job = _Job(self.clock.now() + delay, next(self._sequence), description, run, delay > 0)
        heapq.heappush(self._queue, job)

    def run_until_idle(self, max_jobs: int = 1_000_000) -> int:
        """Run due jobs (jumping the clock to the next one) until nothing is left to do."""
        done = 0
        while done < max_jobs:
            if not self._queue and not any(poller.poll(self) for poller in self.pollers):
                return done
            if not self._queue:
                continue
            job = heapq.heappop(self._queue)
            self.clock.advance_to(job.due)
            if self.interleaver is None:
                self._run_job(job)
                done += 1
                continue
            wave = [job, *self._due_together()]
            self.interleaver.run_concurrently(
                [functools.partial(self._run_job, each) for each in wave],
                names=[each.description for each in wave],
            )
            done += len(wave)
        raise RuntimeError(f"still busy after {max_jobs} jobs: is something looping?")

    def _due_together(self) -> list[_Job]:
        """The undelayed jobs already due: they run alongside the earliest job.

        Delayed jobs (retries, windows) join only when they are the earliest: which of
        them a wave would catch depends on how long the previous wave took in real time,
        and the interleaving must depend on the seed alone.
        """
        now = self.clock.now()
        due = [job for job in self._queue if not job.delayed and job.due <= now]
        if due:
            taken = set(map(id, due))
            self._queue = [job for job in self._queue if id(job) not in taken]
            heapq.heapify(self._queue)
        return sorted(due)

    def _run_job(self, job: _Job) -> None:
        with acting_as(None):
            try:
                job.run()
            except Exception as exc:  # reported; the run goes on
                self.error(
                    "emulator",
                    job=job.description,
                    message=f"{type(exc).__name__}: {exc}",
                    trace=traceback.format_exc(limit=8),
                )

    def error(self, kind: str, **details: Any) -> None:
        """Record something that went wrong, for the report's `errors`."""
        self.errors.append({"kind": kind, **details})


def _set_log_stack(saved: tuple[Any, ...]) -> None:
    FUNCTION_OUTPUT.current[:] = saved[0]


# Which function's log a handler's print lands in: process-wide, so saved per unit.
_LOG_STACK = StateHook(lambda: (list(FUNCTION_OUTPUT.current),), _set_log_stack)
