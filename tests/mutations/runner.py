"""Apply each mutation to a scratch copy of the tree and run its tests there.

The working tree is never touched (others edit it): the copy is `git archive` of a
commit (HEAD by default), or with `--worktree` the tracked and untracked, not ignored
files as they are now. The unmutated copy must pass every selected test first, or a
"caught" would mean nothing. A mutation is caught when pytest reports failing tests
(exit status 1); surviving or erroring mutations make the command exit non-zero.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from .catalog import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[2]
PYTEST_ARGS = ("-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider", "-o", "addopts=")


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True).stdout


def scratch_copy(target: Path, *, ref: str | None) -> None:
    """The tree at `ref` (or the working tree's non-ignored files) under `target`."""
    if ref is not None:
        with tarfile.open(fileobj=io.BytesIO(_git("archive", ref)), mode="r:") as archive:
            archive.extractall(target, filter="data")
        return
    names = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split(b"\0")
    for raw in filter(None, names):
        source = ROOT / raw.decode()
        if source.is_file():
            (target / raw.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / raw.decode())


def test_paths(tree: Path, patterns: Iterable[str]) -> list[str]:
    """The selected tests that exist in `tree` (globs expanded, sorted, unique)."""
    found: set[str] = set()
    for pattern in patterns:
        found.update(os.path.relpath(p, tree) for p in glob.glob(str(tree / pattern)))
    return sorted(found)


def run_pytest(tree: Path, paths: Sequence[str], workers: int) -> tuple[int, str]:
    """Run pytest in `tree` (its own modules first on sys.path); (exit status, tail)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", *PYTEST_ARGS, *paths]
    if workers > 1:
        command += ["-n", str(workers), "--dist", "loadfile"]
    done = subprocess.run(command, check=False, cwd=tree, env=env, capture_output=True, text=True)
    lines = (done.stdout + done.stderr).strip().splitlines()
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return done.returncode, (failed[:1] or lines[-1:] or [""])[0]


def apply(tree: Path, mutation: Mutation) -> str:
    """Write the mutated file into `tree`; returns the original text to restore."""
    path = tree / mutation.path
    text = path.read_text(encoding="utf-8")
    count = text.count(mutation.original)
    if count != 1:
        raise SystemExit(f"{mutation.name}: original text occurs {count} times in {mutation.path}")
    path.write_text(text.replace(mutation.original, mutation.replacement), encoding="utf-8")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutations", description=__doc__)
    parser.add_argument("--ref", default="HEAD", help="commit to copy (default HEAD)")
    parser.add_argument("--worktree", action="store_true", help="copy the working tree instead")
    parser.add_argument("--only", action="append", default=[], help="run this mutation (repeat)")
    parser.add_argument("-n", "--workers", type=int, default=2, help="pytest-xdist workers")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    if not chosen:
        parser.error(f"no mutation named {args.only}")
    with tempfile.TemporaryDirectory(prefix="orderflow-mutate-") as scratch:
        tree = Path(scratch)
        scratch_copy(tree, ref=None if args.worktree else args.ref)
        selected = test_paths(tree, {p for m in chosen for p in m.tests})
        print(f"baseline: running {len(selected)} test file(s) unmutated", flush=True)
        status, tail = run_pytest(tree, selected, args.workers)
        if status != 0:
            print(f"baseline: the unmutated tests do not pass ({tail}); nothing to measure")
            return 2
        print("baseline: they pass", flush=True)
        results: dict[str, int] = {"caught": 0, "survived": 0, "error": 0}
        for mutation in chosen:
            started = time.monotonic()
            original = apply(tree, mutation)
            try:
                status, tail = run_pytest(tree, test_paths(tree, mutation.tests), args.workers)
            finally:
                (tree / mutation.path).write_text(original, encoding="utf-8")
            verdict = {0: "survived", 1: "caught"}.get(status, "error")
            results[verdict] += 1
            seconds = time.monotonic() - started
            detail = f" by {tail}" if verdict == "caught" else f" ({tail})" if tail else ""
            print(
                f"{verdict:8} {mutation.name} [{mutation.pipeline}, {mutation.kind}] "
                f"{seconds:.0f}s{detail}",
                flush=True,
            )
    print(
        f"mutations: {len(chosen)}, caught {results['caught']}, survived "
        f"{results['survived']}, errors {results['error']}"
    )
    return 0 if results["caught"] == len(chosen) else 1
