"""Handlers read the emulator's virtual clock as their wall clock; durations stay real."""

from __future__ import annotations

import datetime as real_datetime
import textwrap
import time as real_time
from pathlib import Path
from types import ModuleType

from emulator.lambdas.runtime import FunctionConfig, LambdaRuntime
from emulator.lambdas.virtual_time import VirtualTime

MOMENT = 2_000_000_000.0  # 2033-05-18T03:33:20Z

SOURCE = """
import datetime as dt
import time
from datetime import UTC, date, datetime
from time import time as epoch

def readings():
    return {
        "now": datetime.now(UTC),
        "utcnow": datetime.utcnow(),
        "module_now": dt.datetime.now(UTC),
        "today": date.today(),
        "time": time.time(),
        "epoch": epoch(),
        "ns": time.time_ns(),
        "parsed": datetime.fromisoformat("2025-01-15T10:00:00+00:00"),
        "sleep": time.sleep,
        "monotonic": time.monotonic,
    }
"""


def _module() -> ModuleType:
    module = ModuleType("handler_under_test")
    exec(textwrap.dedent(SOURCE), vars(module))  # a fixed test source
    return module


def test_every_way_of_reading_now_sees_the_virtual_clock() -> None:
    module = _module()
    assert VirtualTime(lambda: MOMENT).apply([module]) >= 5
    read = module.readings()
    expected = real_datetime.datetime.fromtimestamp(MOMENT, real_datetime.UTC)
    assert read["now"] == expected == read["module_now"]
    assert read["utcnow"] == expected.replace(tzinfo=None)
    assert read["today"] == expected.date()
    assert read["time"] == read["epoch"] == MOMENT
    assert read["ns"] == int(MOMENT * 1e9)
    # Durations and sleeping stay real.
    assert read["sleep"] is real_time.sleep
    assert read["monotonic"] is real_time.monotonic


def test_the_stand_ins_behave_like_the_classes_they_replace() -> None:
    module = _module()
    VirtualTime(lambda: MOMENT).apply([module])
    read = module.readings()
    assert type(read["now"]) is real_datetime.datetime
    assert isinstance(read["now"], module.datetime)
    assert isinstance(real_datetime.datetime(2025, 1, 1), module.datetime)
    assert isinstance(read["today"], module.date)
    assert issubclass(real_datetime.datetime, module.datetime)
    assert read["parsed"] == real_datetime.datetime(2025, 1, 15, 10, tzinfo=real_datetime.UTC)
    assert read["now"] - read["parsed"] > real_datetime.timedelta(days=365)


def test_a_module_is_rebound_once_and_other_modules_are_untouched() -> None:
    module = _module()
    virtual = VirtualTime(lambda: MOMENT)
    assert virtual.apply([module]) > 0
    assert virtual.apply([module]) == 0
    assert real_time.time() < MOMENT
    assert real_datetime.datetime.now().year < 2033


def test_a_handler_run_by_the_runtime_reads_the_wall_clock_it_is_given(tmp_path: Path) -> None:
    (tmp_path / "runtime").mkdir()
    (tmp_path / "runtime" / "__init__.py").write_text("")
    (tmp_path / "runtime" / "clock.py").write_text(
        "from datetime import UTC, datetime\n\n"
        "def handle(event, context):\n"
        "    return datetime.now(UTC).isoformat()\n"
    )
    runtime = LambdaRuntime(wall_clock=lambda: MOMENT)
    runtime.register(
        FunctionConfig(
            name="clock",
            arn="arn:aws:lambda:us-east-1:123456789012:function:clock",
            role_arn="arn:aws:iam::123456789012:role/clock",
            handler="runtime.clock.handle",
            code_dir=tmp_path,
        )
    )
    for _ in range(2):  # cold, then warm
        invocation = runtime.invoke("clock", {})
        assert invocation.error is None
        assert invocation.payload == "2033-05-18T03:33:20+00:00"
