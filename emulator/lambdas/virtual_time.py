"""Lambda code reads the emulator's virtual clock as its wall clock.

Why: the emulator jumps its clock instead of waiting (a retry in 2 minutes, a schedule's
next occurrence). Handler code that compares "now" with times it stored (a sweep that
re-drives ledger entries pending longer than a threshold, a lease that expires) must see
those jumps, or a tick in virtual time finds nothing old enough and re-drives nothing.

How: every function's archive modules are its own (`runtime.IsolatedModules`), so the
emulator can rebind, in those modules only, each global name that refers to
`datetime.datetime`, `datetime.date`, the `datetime` or `time` module, or the functions
`time.time` / `time.time_ns`, to a stand-in whose "now" is the virtual clock:
`datetime.now()`, `datetime.utcnow()`, `datetime.today()`, `date.today()`, `time.time()`
and `time.time_ns()`. Everything else behaves as before: `fromisoformat`, arithmetic and
`isinstance(x, datetime)` (the stand-in classes are subclasses that answer isinstance
checks for real instances, and `now()` returns real `datetime` objects). No handler is
special-cased and no handler code changes.

Not virtual: durations (`time.monotonic`, `time.perf_counter`) and `time.sleep` stay real
(a Lambda timeout is measured on the real duration); a clock read at import time (module
level code runs before the rebinding) or kept in a default argument captured at import;
and modules outside the archive (boto3, Powertools log timestamps, moto).
"""

from __future__ import annotations

import datetime as _datetime_module
import sys
import time as _time_module
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

WallClock = Callable[[], float]
"""Seconds since the epoch, as `time.time()` (the emulator's `VirtualClock.now`)."""

_REAL_DATETIME = _datetime_module.datetime
_REAL_DATE = _datetime_module.date
_REAL_TIME = _time_module.time
_REAL_TIME_NS = _time_module.time_ns
_MARK = "__emulator_virtual_time__"


class _InstanceCheck(type):
    """`isinstance(real_datetime, VirtualDatetime)` is True, as for the class it stands for."""

    _stands_for: type

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._stands_for)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._stands_for)


class VirtualTime:
    """The stand-ins for one clock, and the rebinding of a function's modules to them."""

    def __init__(self, clock: WallClock) -> None:
        self.clock = clock
        now = clock

        class VirtualDatetime(_REAL_DATETIME, metaclass=_InstanceCheck):
            _stands_for = _REAL_DATETIME

            @classmethod
            def now(cls, tz: _datetime_module.tzinfo | None = None) -> Any:
                return _REAL_DATETIME.fromtimestamp(now(), tz)

            @classmethod
            def utcnow(cls) -> Any:
                moment = _REAL_DATETIME.fromtimestamp(now(), _datetime_module.UTC)
                return moment.replace(tzinfo=None)

            @classmethod
            def today(cls) -> Any:
                return _REAL_DATETIME.fromtimestamp(now())

        class VirtualDate(_REAL_DATE, metaclass=_InstanceCheck):
            _stands_for = _REAL_DATE

            @classmethod
            def today(cls) -> Any:
                return _REAL_DATE.fromtimestamp(now())

        def virtual_time() -> float:
            return now()

        def virtual_time_ns() -> int:
            return int(now() * 1_000_000_000)

        self.datetime: type = VirtualDatetime
        self.date: type = VirtualDate
        self.time = virtual_time
        self.time_ns = virtual_time_ns
        self.datetime_module = self._module_proxy(
            _datetime_module, datetime=VirtualDatetime, date=VirtualDate
        )
        self.time_module = self._module_proxy(
            _time_module, time=virtual_time, time_ns=virtual_time_ns
        )
        self._replacements: dict[int, Any] = {
            id(_REAL_DATETIME): VirtualDatetime,
            id(_REAL_DATE): VirtualDate,
            id(_datetime_module): self.datetime_module,
            id(_time_module): self.time_module,
            id(_REAL_TIME): virtual_time,
            id(_REAL_TIME_NS): virtual_time_ns,
        }

    @staticmethod
    def _module_proxy(module: ModuleType, **overrides: Any) -> ModuleType:
        proxy = ModuleType(module.__name__, module.__doc__)
        proxy.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
        proxy.__dict__.update(overrides)
        return proxy

    def apply(self, modules: Iterable[ModuleType]) -> int:
        """Rebind the clock names of `modules` not done yet; returns how many were rebound."""
        rebound = 0
        for module in modules:
            namespace = vars(module)
            if namespace.get(_MARK) is self:
                continue
            for name, value in list(namespace.items()):
                replacement = self._replacements.get(id(value))
                if replacement is not None:
                    namespace[name] = replacement
                    rebound += 1
            namespace[_MARK] = self
        return rebound


def archive_modules(owned: Callable[[str], bool]) -> list[ModuleType]:
    """The loaded modules whose top-level name `owned` says belongs to the archive."""
    return [module for name, module in list(sys.modules.items()) if module and owned(name)]
