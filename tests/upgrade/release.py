"""The previous release (its commit in `ops/previous-release`), unpacked beside this checkout.

Its tree is `git archive`d into `.data/releases/<commit>/src`. When it declares the same dependencies as
this checkout, this checkout's interpreter runs it (its `api` is found first from its own directory);
otherwise it gets a virtual environment of its own there, built once.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tomllib
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RELEASE_FILE = ROOT / "ops" / "previous-release"


@dataclass(frozen=True)
class Release:
    commit: str
    tree: Path  # its source: `python -m api` run here is that release
    python: str


def previous_commit() -> str:
    lines = [line.strip() for line in RELEASE_FILE.read_text().splitlines()]
    commits = [line for line in lines if line and not line.startswith("#")]
    assert len(commits) == 1, f"{RELEASE_FILE} must name exactly one commit"
    return commits[0]


def _dependencies(pyproject: Path) -> tuple[Any, Any]:
    project = tomllib.loads(pyproject.read_text())["project"]
    return project.get("dependencies"), project.get("optional-dependencies")


def unpack(commit: str, data_dir: Path) -> Release:
    home = data_dir / "releases" / commit
    tree = home / "src"
    if not (tree / "pyproject.toml").exists():
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", commit], capture_output=True, check=False
        )
        if archive.returncode != 0:
            raise AssertionError(
                f"the previous release {commit} is not in this clone's history "
                f"({archive.stderr.decode(errors='replace').strip()}): fetch it, or fix {RELEASE_FILE}"
            )
        tree.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
    if _dependencies(tree / "pyproject.toml") == _dependencies(ROOT / "pyproject.toml"):
        return Release(commit, tree, sys.executable)
    python = home / "venv" / "bin" / "python"
    marker = home / "venv" / ".installed"
    if not marker.exists():
        venv.create(home / "venv", with_pip=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"{tree}[dev]"], check=True, timeout=1800
        )
        marker.touch()
    return Release(commit, tree, str(python))
