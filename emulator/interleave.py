"""Seeded interleaving: concurrent work runs in threads, one at a time, switching at AWS calls.

AWS runs Distributed Map children side by side (up to MaxConcurrency), delivers events to
several Express executions at once and lets their Lambda tasks race on one table. Run one
after another, as the emulator does by default, none of those races can show. With an
`Interleaver`, each concurrent unit of work (a Map child, a job of the engine's queue)
runs in its own thread, but only the thread holding the baton runs; at every AWS call
the workload makes (`checkpoint`, called by the IAM guard's botocore wrapper) a seeded
generator picks which runnable unit goes on. So each call is a possible switch point,
the interleaving explored is whatever the seed says, and the same seed (same input, same
code) gives the same interleaving again.

Why cooperative rather than free threads: moto and the emulator's own bookkeeping are not
thread-safe, and a race that shows once in a thousand runs cannot be debugged. Switching
only at AWS calls is also where a real race is decided: another writer can only get in
between two calls, never inside one.

Process-wide state a Lambda invocation sets (its environment variables, its archive's
modules in `sys.modules`, `sys.path`, stdout/stderr and the warnings filters) is saved
when a unit is switched out and put back when it is switched in (`ProcessState`), so two
interleaved invocations of different functions each see their own.
"""

from __future__ import annotations

import contextvars
import os
import random
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

T = TypeVar("T")

REPEAT_CHANCE: Final = 0.5  # of an Express child running twice, when asked to
STALL_SECONDS: Final = 600.0  # a unit holding the baton this long is stuck, not slow

_INSTALLED: list[Interleaver] = []  # at most one: the open emulator's


def active() -> Interleaver | None:
    """The interleaver of the open emulator, if it interleaves."""
    return _INSTALLED[0] if _INSTALLED else None


def checkpoint() -> None:
    """A possible switch point (an AWS call is about to be made); no-op without interleaving."""
    if _INSTALLED:
        _INSTALLED[0].checkpoint()


class InterleavingStalled(RuntimeError):
    """A unit neither finished nor reached a checkpoint: something blocks outside the scheduler."""


@dataclass(frozen=True)
class ProcessState:
    """What a Lambda invocation changes process-wide, captured to be restored later."""

    environ: dict[str, str]
    path: list[str]
    modules: dict[str, Any]
    stdout: Any
    stderr: Any
    filters: list[Any]
    filters_list: Any
    showwarning: Any
    extra: tuple[Any, ...]

    @staticmethod
    def capture(owned: Callable[[str], bool], extra: StateHook | None) -> ProcessState:
        return ProcessState(
            environ=dict(os.environ),
            path=list(sys.path),
            modules={k: v for k, v in sys.modules.items() if owned(k)},
            stdout=sys.stdout,
            stderr=sys.stderr,
            filters=list(warnings.filters),
            filters_list=warnings.filters,
            showwarning=warnings.showwarning,
            extra=extra.capture() if extra is not None else (),
        )

    def restore(self, owned: Callable[[str], bool], extra: StateHook | None) -> None:
        for key in [k for k in os.environ if k not in self.environ]:
            del os.environ[key]
        for key, value in self.environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        sys.path[:] = self.path
        for name in [k for k in sys.modules if owned(k) and k not in self.modules]:
            del sys.modules[name]
        sys.modules.update(self.modules)
        sys.stdout, sys.stderr = self.stdout, self.stderr
        warnings.filters = self.filters_list  # catch_warnings swaps the list object itself
        self.filters_list[:] = self.filters
        warnings._filters_mutated()  # type: ignore[attr-defined]
        warnings.showwarning = self.showwarning
        if extra is not None:
            extra.restore(self.extra)


class StateHook:
    """More process-wide state to save and restore per unit (e.g. the Lambda log stack)."""

    def __init__(
        self, capture: Callable[[], tuple[Any, ...]], restore: Callable[[tuple[Any, ...]], None]
    ) -> None:
        self.capture = capture
        self.restore = restore


@dataclass(eq=False)
class _Unit:
    """One thread under the scheduler (or the thread that started a group: the root)."""

    id: int
    name: str
    thread: threading.Thread | None = None
    state: ProcessState | None = None


@dataclass(eq=False)
class _Group(Generic[T]):
    """The units one `run_concurrently` call started, with at most `limit` running."""

    parent: _Unit
    thunks: Sequence[Callable[[], T]]
    names: Sequence[str]
    limit: int
    on_done: Callable[[int, T], bool] | None
    spawn_state: ProcessState
    results: dict[int, T] = field(default_factory=dict)
    errors: dict[int, BaseException] = field(default_factory=dict)
    started: int = 0
    running: int = 0
    stopped: bool = False

    @property
    def finished(self) -> bool:
        return self.running == 0 and (self.stopped or self.started == len(self.thunks))


class Interleaver:
    """A seeded cooperative scheduler for the emulator's concurrent work (see module doc)."""

    def __init__(
        self,
        seed: int,
        *,
        owned_modules: Callable[[str], bool] = lambda name: False,
        extra_state: StateHook | None = None,
        express_at_least_once: bool = False,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - reproducible choices, not secrets
        self.express_at_least_once = express_at_least_once
        """Express Map children may run twice (AWS: at least once); see `run_again`."""
        self.repeated = 0
        """How many Express children were run a second time."""
        self.owned_modules = owned_modules
        self.extra_state = extra_state
        self.switches = 0
        """How often the baton went to another unit (starts and ends of units included)."""
        self.preemptions = 0
        """How often a unit was stopped at a checkpoint for another to run: each one is a
        place where another writer got in between two AWS calls."""
        self.trace: list[int] = []
        """Which unit (numbered in creation order) got the baton at each switch point, in
        order: equal for equal seeds (names may hold random ids, numbers do not)."""
        self._cond = threading.Condition()
        self._ready: list[_Unit] = []  # runnable units, in creation order
        self._holder: _Unit | None = None
        self._units: dict[threading.Thread, _Unit] = {}
        self._ids = 0

    def reseed(self, seed: int) -> None:
        """Explore another interleaving from here on (tests reuse one deployed emulator)."""
        if self._holder is not None and self._holder.thread is not None:
            raise RuntimeError("reseed while units run")
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311 - reproducible choices, not secrets
        self.trace.clear()
        self.switches = 0
        self.preemptions = 0
        self.repeated = 0
        self._ids = max((unit.id for unit in self._units.values()), default=0)

    def run_again(self) -> bool:
        """Whether an Express child runs a second time (the seeded generator decides)."""
        again = self.rng.random() < REPEAT_CHANCE
        self.repeated += again
        return again

    # installation ------------------------------------------------------------------------
    def install(self) -> None:
        if _INSTALLED and _INSTALLED[0] is not self:
            raise RuntimeError("another interleaver is installed")
        _INSTALLED[:] = [self]

    def uninstall(self) -> None:
        if _INSTALLED and _INSTALLED[0] is self:
            _INSTALLED.clear()

    # what other modules ask -----------------------------------------------------------------
    def manages(self, thread: threading.Thread) -> bool:
        """True for the threads this scheduler runs (their context is authoritative)."""
        unit = self._units.get(thread)
        return unit is not None and unit.thread is not None

    def holder_thread(self) -> threading.Thread | None:
        """The thread now allowed to run (None when nothing runs concurrently)."""
        holder = self._holder
        return holder.thread if holder is not None and holder.thread is not None else None

    # running concurrent work -------------------------------------------------------------------
    def run_concurrently(
        self,
        thunks: Sequence[Callable[[], T]],
        *,
        limit: int = 0,
        names: Sequence[str] | None = None,
        on_done: Callable[[int, T], bool] | None = None,
    ) -> list[T]:
        """Run `thunks` as concurrent units, at most `limit` at a time (0: all); their results.

        Units start in order as slots free up. `on_done(index, result)` runs as each
        finishes (in the scheduler's order); returning False starts no more units (a Map
        run whose failures exceed the tolerance). The first exception (by index) is
        raised once every started unit has finished; units never started have no result,
        so the list then holds only the finished ones, by index.
        """
        me = self._current()
        if me is None:  # a thread the scheduler does not run (a handler's own worker)
            return self._run_in_order(thunks, on_done)
        group: _Group[T] = _Group(
            parent=me,
            thunks=thunks,
            names=names or [f"unit {i}" for i in range(len(thunks))],
            limit=limit if limit > 0 else len(thunks),
            on_done=on_done,
            spawn_state=self._capture(),
        )
        if not thunks:
            return []
        with self._cond:
            while group.started < min(group.limit, len(thunks)):
                self._start_next(group)
            self._ready.remove(me)
            me.state = group.spawn_state
            self._pass_baton()
            self._wait_for_baton(me)
        self._restore(me)
        if group.errors:
            raise group.errors[min(group.errors)]
        return [group.results[i] for i in sorted(group.results)]

    def checkpoint(self) -> None:
        """Let the seeded generator pick which runnable unit goes on (maybe this one)."""
        me = self._units.get(threading.current_thread())
        if me is None or me.thread is None or self._holder is not me:
            return
        with self._cond:
            if len(self._ready) < 2:
                return
            chosen = self.rng.choice(self._ready)
            if chosen is me:
                return
            self.preemptions += 1
            me.state = self._capture()
            self._hand_to(chosen)
            self._wait_for_baton(me)
        self._restore(me)

    # internals ---------------------------------------------------------------------------------
    def _current(self) -> _Unit | None:
        thread = threading.current_thread()
        unit = self._units.get(thread)
        if unit is not None:
            return unit
        with self._cond:
            if self._holder is not None:
                return None
            unit = _Unit(self._next_id(), f"root {thread.name}")
            self._units[thread] = unit
            self._ready.append(unit)
            self._holder = unit
            return unit

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _start_next(self, group: _Group[T]) -> None:
        index = group.started
        group.started += 1
        group.running += 1
        unit = _Unit(self._next_id(), group.names[index], state=group.spawn_state)
        context = contextvars.copy_context()
        thunk = group.thunks[index]

        def body() -> None:
            with self._cond:
                self._wait_for_baton(unit)
            self._restore(unit)
            try:
                result = context.run(thunk)
            except BaseException as exc:  # handed to the group's caller
                self._finish(group, unit, index, None, exc)
            else:
                self._finish(group, unit, index, result, None)

        thread = threading.Thread(target=body, name=f"interleave-{unit.id}", daemon=True)
        unit.thread = thread
        self._units[thread] = unit
        self._ready.append(unit)
        thread.start()

    def _finish(
        self,
        group: _Group[T],
        unit: _Unit,
        index: int,
        result: T | None,
        error: BaseException | None,
    ) -> None:
        with self._cond:
            group.running -= 1
            if error is not None:
                group.errors[index] = error
            else:
                group.results[index] = result  # type: ignore[assignment]
                if group.on_done is not None and group.on_done(index, result) is False:  # type: ignore[arg-type]
                    group.stopped = True
            self._ready.remove(unit)
            del self._units[unit.thread]  # type: ignore[arg-type]
            if not group.stopped and group.started < len(group.thunks):
                self._start_next(group)
            if group.finished:
                self._ready.append(group.parent)
                self._ready.sort(key=lambda u: u.id)
            self._pass_baton()

    def _pass_baton(self) -> None:
        """Give the baton to a runnable unit chosen by the generator (caller holds the lock)."""
        if not self._ready:
            raise RuntimeError("interleaving: no unit can run (a scheduler bug)")
        self._hand_to(self.rng.choice(self._ready))

    def _hand_to(self, unit: _Unit) -> None:
        if unit is not self._holder:
            self.switches += 1
        self._holder = unit
        self.trace.append(unit.id)
        self._cond.notify_all()

    def _wait_for_baton(self, unit: _Unit) -> None:
        while self._holder is not unit:
            if not self._cond.wait(timeout=STALL_SECONDS):
                holder = self._holder.name if self._holder is not None else "none"
                raise InterleavingStalled(
                    f"{unit.name} waited {STALL_SECONDS:.0f} s for {holder}: a unit blocks "
                    "outside the scheduler (a lock or a join held across an AWS call?)"
                )

    def _capture(self) -> ProcessState:
        return ProcessState.capture(self.owned_modules, self.extra_state)

    def _restore(self, unit: _Unit) -> None:
        if unit.state is not None:
            unit.state.restore(self.owned_modules, self.extra_state)
            unit.state = None

    @staticmethod
    def _run_in_order(
        thunks: Sequence[Callable[[], T]], on_done: Callable[[int, T], bool] | None
    ) -> list[T]:
        results: list[T] = []
        for index, thunk in enumerate(thunks):
            results.append(thunk())
            if on_done is not None and on_done(index, results[-1]) is False:
                break
        return results
