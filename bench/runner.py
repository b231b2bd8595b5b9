"""`python -m bench`: run every measurement, each in its own process, within a time budget.

Why one process per task: moto's state and the emulator are process-wide (one emulator
per process), handler modules cache their clients and settings, and a task that hangs or
crashes must cost only its own figure. Tasks run one after another, never side by side,
so a timing is never shared with another task's CPU.

Figures that cannot be measured (a pipeline the emulator does not run yet, a run that did
not finish in its budget) are reported as "not available: <reason>", never estimated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench import report
from bench.pricing import MILLION, Usage, breakdown, cost, per_million, rounded

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO_ROOT: Final = BENCH_DIR.parent
RESULTS: Final = BENCH_DIR / "results.json"
README: Final = BENCH_DIR / "README.md"
PIPELINES: Final = ("validation", "premium", "late-data", "consolidation")
BUDGET_SECONDS: Final = 600.0
MIN_TASK_SECONDS: Final = 20.0
NOT_RUN: Final = "not available: not run (a subset was chosen with --only)"


@dataclass(frozen=True)
class Task:
    name: str
    cap_seconds: float
    what: str
    phase: str = "cost"
    """`background`: started first, beside the cost runs (2 cores: one each); `cost`: one
    after another; `timing`: only once nothing else of ours runs."""


# The cost figures first (the main question); the longest of them, late-data, runs
# beside the others (its Lambda durations are ~1% of its bill); then throughput, cold start
# and the demo, alone, with what is left of the budget.
TASKS: Final = (
    Task("pipeline:late-data", 480, "LateDataReconciler on the emulator", "background"),
    Task("seed:validation", 60, "seed 001 reference on the validation workload"),
    Task("seed:premium", 60, "seed 003 reference on the premium workload"),
    Task("seed:late-data", 60, "seed 000 reference on the late-data workload"),
    Task("seed:consolidation", 20, "seed 002 single-invocation model"),
    Task("pipeline:validation", 150, "ValidationPipeline on the emulator"),
    Task("pipeline:consolidation", 180, "ConsolidationConsumer on the emulator"),
    Task("pipeline:premium", 200, "PremiumOrderPipe on the emulator"),
    Task("imports", 60, "handler import times in fresh interpreters", "timing"),
    Task("throughput:validation", 60, "validation handlers against moto", "timing"),
    Task("throughput:orders", 60, "order handlers against moto", "timing"),
    Task("throughput:consolidation", 60, "consolidation handlers against moto", "timing"),
    Task("throughput:reconciliation", 60, "reconciliation handlers against moto", "timing"),
    Task("demo", 120, "wall time of `python -m emulator demo`", "timing"),
)
MEMORY_LIMIT_BYTES: Final = 6 * 1024**3  # per task: a runaway fails alone, the machine stays up


# -- one task, in this process -------------------------------------------------------------


def run_task(name: str, workdir: Path) -> dict[str, Any]:
    """Perform one task here and return its JSON-able result."""
    kind, _, target = name.partition(":")
    if kind == "pipeline":
        return _pipeline(target, workdir)
    if kind == "seed":
        return _seed(target)
    if kind == "throughput":
        from bench import throughput  # noqa: PLC0415

        return {"status": "measured", "handlers": throughput.run_family(target)}
    if kind == "imports":
        from bench import throughput  # noqa: PLC0415

        return {"status": "measured", "modules": throughput.import_times()}
    raise ValueError(f"unknown task {name!r}")


def _usage_json(usage: Usage, records: int) -> dict[str, Any]:
    scaled = per_million(usage, records)
    return {
        "usage": usage.as_dict(),
        "usage_per_million": scaled.as_dict(),
        "breakdown_per_million_usd": rounded(breakdown(scaled)),
        "cost_per_million_usd": round(cost(scaled), 6),
    }


def _pipeline(pipeline: str, workdir: Path) -> dict[str, Any]:
    from bench import pipelines  # noqa: PLC0415

    try:
        run = pipelines.run_pipeline(pipeline, pipelines.DEFAULT_SIZES[pipeline], workdir)
    except pipelines.NotAvailableError as exc:
        return {"status": f"not available: {exc}"}
    return {
        "status": "measured",
        "records": run.records,
        **_usage_json(run.usage, run.records),
        "details": run.details,
        "notes": run.notes,
    }


def _seed(pipeline: str) -> dict[str, Any]:
    from bench import reference, workloads  # noqa: PLC0415
    from bench.pipelines import DEFAULT_SIZES  # noqa: PLC0415

    started = time.perf_counter()
    if pipeline == "validation":
        run = reference.run_seed001(workloads.sales_records(DEFAULT_SIZES["validation"]))
    elif pipeline == "premium":
        run = reference.run_seed003(workloads.order_changes(DEFAULT_SIZES["premium"]))
    elif pipeline == "late-data":
        run = reference.run_seed000(workloads.late_events(DEFAULT_SIZES["late-data"]))
    elif pipeline == "consolidation":
        run = reference.SequentialUpdaterModel().run()
    else:
        raise ValueError(f"unknown pipeline {pipeline!r}")
    return {
        "status": "measured" if pipeline != "consolidation" else "modelled",
        "records": run.records,
        **_usage_json(run.usage, run.records),
        "details": {**run.details, "seconds": round(time.perf_counter() - started, 2)},
        "notes": run.notes,
    }


# -- the whole benchmark -------------------------------------------------------------------


def _limit_memory() -> None:
    """Cap a task's address space (a moto hot spot once grew one run to 18 GB)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


class _Running:
    """One task in its own process: started now, collected later (or at once)."""

    def __init__(self, name: str, timeout: float, workdir: Path) -> None:
        self.name, self.timeout = name, timeout
        self.out = workdir / f"{name.replace(':', '-')}.json"
        self.log = (workdir / f"{name.replace(':', '-')}.log").open("w+")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench", "--task", name, "--out", str(self.out)],
            cwd=REPO_ROOT,
            preexec_fn=_limit_memory,  # noqa: PLW1509 - the runner starts no threads
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def result(self) -> dict[str, Any]:
        """Wait for the task (until its own deadline); stop it if it runs over."""
        left = self.timeout - (time.perf_counter() - self.started)
        try:
            code = self.process.wait(timeout=max(left, 0.1))
        except subprocess.TimeoutExpired:
            self.process.kill()  # this task's own process, by its handle
            self.process.wait()
            self.log.close()
            return {
                "status": f"not available: did not finish within {self.timeout:.0f} s on this "
                "machine"
            }
        seconds = time.perf_counter() - self.started
        self.log.seek(0)
        tail = self.log.read().strip().splitlines()[-3:]
        self.log.close()
        if code != 0 or not self.out.exists():
            return {"status": f"not available: the task failed ({' | '.join(tail)[:400]})"}
        result: dict[str, Any] = json.loads(self.out.read_text())
        result["task_seconds"] = round(seconds, 1)
        return result


def time_demo(timeout: float) -> dict[str, Any]:
    """Wall time of `python -m emulator demo` (what `make demo` runs), in a subprocess."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "emulator", "demo"],
            cwd=REPO_ROOT,
            preexec_fn=_limit_memory,  # the parent starts no threads: safe to fork
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"status": f"not available: did not finish within {timeout:.0f} s"}
    seconds = time.perf_counter() - started
    last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
    return {
        "status": "measured",
        "wall_seconds": round(seconds, 1),
        "exit_code": done.returncode,
        "last_line": last[:300],
        "command": "python -m emulator demo",
    }


def _command(*args: str) -> str:
    """A tool's output, or "" when it is missing or fails."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed commands, no user input
            list(args), cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.strip()


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    cpu = ""
    with_info = Path("/proc/cpuinfo")
    if with_info.exists():
        for line in with_info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    nproc = _command("nproc") or str(os.cpu_count())
    commit = _command("git", "rev-parse", "--short", "HEAD")
    dirty = _command("git", "status", "--porcelain")
    versions: dict[str, str] = {}
    from importlib import metadata  # noqa: PLC0415

    for package in ("moto", "boto3", "botocore", "aws-lambda-powertools", "pulumi"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "nproc": int(nproc or 0),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "packages": versions,
    }


def assemble(tasks: dict[str, dict[str, Any]], started: float) -> dict[str, Any]:
    """The results.json document from every task's result."""
    results: dict[str, Any] = {}
    status: dict[str, str] = {}
    comparison: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for pipeline in PIPELINES:
        ours, seed = tasks.get(f"pipeline:{pipeline}", {}), tasks.get(f"seed:{pipeline}", {})
        available = ours.get("status") == "measured"
        seed_cost = seed.get("cost_per_million_usd")
        results[pipeline] = {
            "records": ours.get("records") if available else None,
            "cost_per_million_usd": ours.get("cost_per_million_usd") if available else None,
            "seed_cost_per_million_usd": seed_cost,
            "breakdown": ours.get("breakdown_per_million_usd", {}) if available else {},
        }
        status[pipeline] = "measured" if available else str(ours.get("status", NOT_RUN))
        comparison[pipeline] = report.compare(pipeline, ours if available else None, seed)
        details[pipeline] = {"ours": ours, "seed": seed}
    throughput: dict[str, Any] = {}
    for name, result in tasks.items():
        if name.startswith("throughput:"):
            throughput.update(result.get("handlers") or {name: {"status": result.get("status")}})
    scale: dict[str, Any] = {"status": "not available: the updater was not measured"}
    worker = throughput.get("consolidation.updater_worker")
    if isinstance(worker, dict) and "client_cpu_ms_per_update" in worker:
        from bench import scale as scale_model  # noqa: PLC0415

        scale = {"status": "modelled", **scale_model.model(worker)}
    consolidation_run = tasks.get("pipeline:consolidation", {})
    scale["measured_emulator_run"] = (
        {
            "chargebacks": consolidation_run.get("records"),
            **{
                k: consolidation_run.get("details", {}).get(k)
                for k in ("run_seconds", "records_per_second_on_emulator", "lambda_timings")
            },
        }
        if consolidation_run.get("status") == "measured"
        else {"status": consolidation_run.get("status", NOT_RUN)}
    )
    imports = tasks.get("imports", {})
    return {
        **results,
        "status": status,
        "comparison": comparison,
        "throughput": throughput,
        "cold_start": imports.get("modules") or {"status": imports.get("status", NOT_RUN)},
        "consolidation_scale": scale,
        "demo": tasks.get("demo", {"status": NOT_RUN}),
        "details": details,
        "assumptions": report.ASSUMPTIONS,
        "machine": machine(),
        "command": "make bench  (= .venv/bin/python -m bench)",
        "bench_seconds": round(time.perf_counter() - started, 1),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scale_basis": f"linear to {MILLION:,} records from the measured run",
    }


def run_all(
    names: Sequence[str] | None = None,
    budget: float = BUDGET_SECONDS,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the chosen tasks: the background one beside the cost runs, timings alone."""
    started = time.perf_counter()
    tasks: dict[str, dict[str, Any]] = {}
    chosen = [t for t in TASKS if names is None or t.name in names]
    background: list[_Running] = []
    with tempfile.TemporaryDirectory(prefix="orderflow-bench-") as tmp:
        workdir = Path(tmp)

        def collect() -> None:
            for job in background:
                say(f"[{time.perf_counter() - started:6.1f}s] waiting for {job.name} ...")
                tasks[job.name] = job.result()
                say(f"{'':9}{job.name} -> {report.one_line(job.name, tasks[job.name])}")
            background.clear()

        for number, task in enumerate(chosen, 1):
            if task.phase == "timing":
                collect()  # timings share the machine with nothing of ours
            elapsed = time.perf_counter() - started
            left = budget - elapsed
            prefix = f"[{elapsed:6.1f}s] ({number}/{len(chosen)}) {task.name:<28}"
            if left < MIN_TASK_SECONDS:
                tasks[task.name] = {
                    "status": f"not available: skipped, the {budget:.0f} s budget was spent"
                }
                say(f"{prefix} skipped (budget spent)")
                continue
            timeout = min(task.cap_seconds, left)
            if task.phase == "background":
                say(f"{prefix} {task.what} (in the background, up to {timeout:.0f} s)")
                background.append(_Running(task.name, timeout, workdir))
                continue
            say(f"{prefix} {task.what} ...")
            result = (
                time_demo(timeout)
                if task.name == "demo"
                else _Running(task.name, timeout, workdir).result()
            )
            tasks[task.name] = result
            say(f"{' ' * len(prefix)} -> {report.one_line(task.name, result)}")
        collect()
    return assemble(tasks, started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--task", help="run one task in this process and print its JSON")
    parser.add_argument("--out", type=Path, help="with --task: write the JSON here instead")
    parser.add_argument("--only", help="comma-separated task names (default: all)")
    parser.add_argument("--readme", action="store_true", help="regenerate README.md only")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds in all")
    args = parser.parse_args(argv)
    if args.task:
        with tempfile.TemporaryDirectory(prefix="orderflow-bench-task-") as tmp:
            result = run_task(args.task, Path(tmp))
        text = json.dumps(result, indent=2, default=str)
        if args.out:
            args.out.write_text(text)
        else:
            print(text)
        return 0
    if args.readme:
        README.write_text(report.readme(json.loads(RESULTS.read_text())))
        return 0
    names = args.only.split(",") if args.only else None
    print(f"orderflow benchmarks: {len(names or TASKS)} tasks, budget {args.budget:.0f} s")
    results = run_all(names, args.budget)
    print()
    print(report.table(results))
    if names is not None:  # a subset must not overwrite the full results
        partial = Path(tempfile.gettempdir()) / "orderflow-bench-partial.json"
        partial.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\n--only: {RESULTS.name} left as it was; this run's results: {partial}")
        return 0
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    README.write_text(report.readme(results))
    print(
        f"\nwrote {RESULTS.relative_to(REPO_ROOT)} and {README.relative_to(REPO_ROOT)} "
        f"in {results['bench_seconds']:.0f} s"
    )
    return 0
