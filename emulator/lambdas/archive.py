"""Turn a Pulumi `code` asset or archive into a directory, as Lambda unpacks its zip.

The function then imports its handler from that directory, so it runs exactly the files
the program packaged: a module the archive forgot is missing here too.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pulumi

_SKIPPED = ("__pycache__",)


def materialise(code: Any, target: Path) -> None:
    """Write the contents of `code` (asset, archive or nested AssetArchive) under `target`."""
    target.mkdir(parents=True, exist_ok=True)
    if isinstance(code, pulumi.AssetArchive):
        for name, member in code.assets.items():
            if isinstance(member, pulumi.Archive):
                materialise(member, target / name)
            else:
                _write_asset(member, target / name)
    elif isinstance(code, pulumi.FileArchive):
        source = Path(code.path)
        if source.is_dir():
            shutil.copytree(
                source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*_SKIPPED)
            )
        else:
            shutil.unpack_archive(str(source), str(target))
    else:
        raise TypeError(f"cannot unpack Lambda code of type {type(code).__name__}")


def _write_asset(asset: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(asset, pulumi.FileAsset):
        shutil.copyfile(asset.path, path)
    elif isinstance(asset, pulumi.StringAsset):
        path.write_text(asset.text)
    else:
        raise TypeError(f"cannot unpack Lambda asset of type {type(asset).__name__}")


def zip_directory(root: Path) -> bytes:
    """The directory as a deployment zip (what moto stores as the function's code)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
