"""One harness for the session (each harness run and emulator deploy installs its own mocks),
and the suite's conservation lines, summed over pytest-xdist workers."""

from __future__ import annotations

from typing import Any

import conservation_tally
import pytest
from pulumi_harness import PulumiHarness


@pytest.fixture(scope="session")
def pulumi_harness() -> PulumiHarness:
    return PulumiHarness()


# -- the suite's conservation lines (see conservation_tally.py) ---------------------------
_GATHERED: list[dict[str, Any]] = []


def pytest_runtest_setup(item: pytest.Item) -> None:
    conservation_tally.start_test(item.nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: a worker finished; keep its tallies for the summary."""
    _GATHERED.extend(getattr(node, "workeroutput", {}).get("conservation", []))


def _tallies() -> list[conservation_tally.Tally]:
    return conservation_tally.load(_GATHERED + conservation_tally.dump())


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Workers hand their tallies over; the controller fails on an unexplained loss."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["conservation"] = conservation_tally.dump()
        return
    _, failures = conservation_tally.summary(_tallies())
    if failures and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    tallies = _tallies()
    if not tallies:
        return
    lines, failures = conservation_tally.summary(tallies)
    terminalreporter.section("conservation (every accounted run of the suite)")
    for line in lines + failures:
        terminalreporter.write_line(line)
