"""The `orderflow` distribution installs the repository's `components/` and `runtime/` as
`orderflow.components` and `orderflow.runtime`, with the AWS facts table `orderflow.aws_facts`,
and the components find their Lambda code (and the facts it reads) in either layout. Checked
on a wheel actually built, then installed by unpacking it."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from consumers_support import ROOT, installed_components

# What the build needs besides the two packages (pyproject.toml names README.md as readme).
BUILD_INPUTS = ("pyproject.toml", "README.md", "components", "runtime", "orderflow")


def shipped_files(folder: str) -> set[str]:
    """Every file of a package folder that belongs in the distribution."""
    base = ROOT / folder
    return {
        path.relative_to(base).as_posix()
        for path in base.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def validation_archive() -> list[str]:
    """The files of a validation-family Lambda archive, in either layout: the sources only."""
    return sorted(
        [
            "orderflow/aws_facts/__init__.py",
            "runtime/__init__.py",
            *(f"runtime/common/{f}" for f in shipped_files("runtime/common")),
            *(f"runtime/validation/{f}" for f in shipped_files("runtime/validation")),
        ]
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps --no-build-isolation` of a copy of the sources (the repository
    itself stays free of build/ and egg-info folders)."""
    work = tmp_path_factory.mktemp("build")
    source = work / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = work / "dist"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"),
            *("--disable-pip-version-check", "--quiet", "-w", str(dist), str(source)),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (built,) = dist.glob("orderflow-*.whl")
    return built


def test_wheel_holds_both_folders_and_the_facts_under_orderflow_and_nothing_else(
    wheel: Path,
) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packaged = {n for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    expected = (
        {f"orderflow/components/{f}" for f in shipped_files("components")}
        | {f"orderflow/runtime/{f}" for f in shipped_files("runtime")}
        | {f"orderflow/aws_facts/{f}" for f in shipped_files("orderflow/aws_facts")}
    )
    assert "orderflow/aws_facts/__init__.py" in packaged
    assert sorted(expected - packaged) == [], "files the wheel lacks (pyproject packages?)"
    assert sorted(packaged - expected) == [], "files the wheel should not ship"
    # No top-level `components`/`runtime` that would collide with a user's own packages.
    assert {n.split("/", 1)[0] for n in packaged} == {"orderflow"}


def test_wheel_requires_what_the_components_import(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
    requires = [
        line.removeprefix("Requires-Dist:").strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    names = {re.split(r"[<>=!~ ;]", r, maxsplit=1)[0] for r in requires}
    assert names == {"pulumi", "pulumi-aws"}


def test_installed_components_package_their_lambda_code_from_the_installed_runtime(
    wheel: Path, tmp_path: Path
) -> None:
    """Unpacked, a pure-Python wheel is an installation; `-S` leaves out .venv's .pth files
    (and so the editable install of the repository), PYTHONPATH supplies pulumi."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = """
import compileall, json
import orderflow.components as components
from orderflow.components import lambda_function as code
# An installed package has byte code beside its sources; none of it may reach the archive.
compileall.compile_dir(str(code.RUNTIME_DIR), quiet=1)
archive = code.runtime_archive("validation")
print(json.dumps({
    "components": components.__file__,
    "runtime_dir": str(code.RUNTIME_DIR),
    "facts_dir": str(code.FACTS_DIR),
    "archive": sorted(archive.assets),
    "classes": [name for name in components.__all__ if name[0].isupper()],
}))
"""
    paths = [str(site), sysconfig.get_paths()["purelib"]]
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = json.loads(done.stdout)
    assert Path(found["components"]).is_relative_to(site / "orderflow" / "components")
    assert Path(found["runtime_dir"]) == site / "orderflow" / "runtime"
    assert Path(found["facts_dir"]) == site / "orderflow" / "aws_facts"
    assert (site / "orderflow" / "runtime" / "common" / "__pycache__").is_dir()
    assert found["archive"] == validation_archive()
    assert {"ValidationPipeline", "PremiumOrderPipe", "ConsolidationConsumer"} <= set(
        found["classes"]
    )


def test_the_editable_install_serves_this_repository() -> None:
    """In .venv, `orderflow.components` is this checkout's `components/` (edits show at once)."""
    components = installed_components()
    assert Path(str(components.__file__)).parent == ROOT / "components"
    from importlib import import_module

    code = import_module("orderflow.components.lambda_function")
    assert code.RUNTIME_DIR == ROOT / "runtime"


def test_components_import_each_other_relatively() -> None:
    """`from components.x import y` would break the installed `orderflow.components`."""
    absolute = []
    for path in sorted((ROOT / "components").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            absolute += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in ("components", "runtime")
            ]
    assert absolute == [], "use relative imports (`from .settings import …`)"
