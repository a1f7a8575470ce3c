"""The documentation points only at what the repository holds.

Every relative link in a Markdown file (`[text](path#anchor)`) resolves to a file, and its anchor to a
heading of the Markdown file it names; every backticked repository path (`core/clock.py`,
`ops/k8s/`, `settings.py`) exists; and every Markdown file the code and configuration name (with a
section, `docs/architecture.md#promises`) exists, with that section. Paths git ignores (`.data/`,
`ops/.env`) are made at run time and are not checked; neither are fenced code blocks, which hold
commands and examples.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent

#: A backticked token with one of these endings, and no slash, is a file name.
_FILE_ENDINGS = frozenset(
    {"py", "md", "yaml", "yml", "json", "toml", "sh", "conf", "csv", "ts", "txt", "cfg", "ini", "sql"}
)
_FILE_NAMES = frozenset({"Makefile", "Dockerfile"})
_PATH_LIKE = re.compile(r"[\w.-]+(?:/[\w.-]+)*/?")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_HTML_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
#: A Markdown file named in code or configuration, with a section perhaps.
_NAMED_MARKDOWN = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)(#[\w-]+)?")
_CODE_FILES = ("*.py", "*.yaml", "*.yml", "*.toml", "*.sh", "*.conf", "Makefile", "Dockerfile", ".ci/*")


def _git(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, input=stdin, capture_output=True, text=True, check=False
    ).stdout


@cache
def repository_files() -> tuple[str, ...]:
    """Every file of the working tree that git tracks or would track (new ones included)."""
    listed = _git("ls-files", "--cached", "--others", "--exclude-standard", "-z")
    return tuple(sorted(listed.split("\0")[:-1]))


@cache
def _top_level() -> frozenset[str]:
    return frozenset(path.split("/", 1)[0] for path in repository_files())


@cache
def _basenames() -> frozenset[str]:
    return frozenset(PurePosixPath(path).name for path in repository_files())


def _ignored(paths: list[str]) -> set[str]:
    """The paths git ignores (made at run time: data, virtualenvs, secrets)."""
    if not paths:
        return set()
    return set(_git("check-ignore", "--no-index", "--stdin", stdin="\n".join(paths)).splitlines())


def _markdown_files() -> list[Path]:
    return [ROOT / path for path in repository_files() if path.endswith(".md")]


def _prose_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines outside fenced code blocks, numbered from 1."""
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors_of(path: Path) -> frozenset[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(path):
        found.update(_HTML_ANCHOR.findall(line))
        heading = _HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def _resolve(written: str, beside: Path) -> Path | None:
    """`written` relative to the file that names it, else to the repository root; None if neither."""
    stripped = written.rstrip("/")
    candidates = (
        [ROOT / stripped.lstrip("/")] if written.startswith("/") else [beside / stripped, ROOT / stripped]
    )
    for candidate in candidates:
        if candidate.exists() and (not written.endswith("/") or candidate.is_dir()):
            return candidate.resolve()
    return None


def _check_target(written: str, beside: Path, where: str) -> str | None:
    """What is wrong with a link or reference to `written` (`path#anchor`), or None."""
    path_part, _, anchor = written.partition("#")
    target = _resolve(path_part, beside) if path_part else None
    if path_part and target is None:
        return f"{where}: {written!r} does not exist"
    if anchor and (target is None or target.suffix == ".md"):
        markdown = target or None
        if markdown is not None and anchor not in anchors_of(markdown):
            return f"{where}: {written!r}: no heading with the anchor #{anchor}"
    return None


def _links(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in _prose_lines(path):
        prose = _INLINE_CODE.sub("", line)
        for target in _LINK.findall(prose):
            yield number, target
        reference = _REFERENCE_LINK.match(prose)
        if reference:
            yield number, reference.group(1)


def _meant_as_path(token: str) -> bool:
    if token.startswith(("/", "-", "$", "~")) or not _PATH_LIKE.fullmatch(token):
        return False
    if "/" in token:
        return token.split("/", 1)[0] in _top_level() | {".", ".."}
    return token in _FILE_NAMES or ("." in token.strip(".") and token.rsplit(".", 1)[1] in _FILE_ENDINGS)


def test_every_relative_link_in_the_markdown_resolves() -> None:
    problems = []
    for path in _markdown_files():
        for number, target in _links(path):
            if _SCHEME.match(target):
                continue  # http:, https:, mailto:
            where = f"{path.relative_to(ROOT)}:{number}"
            if target.startswith("#"):
                if target[1:] not in anchors_of(path):
                    problems.append(f"{where}: no heading with the anchor {target}")
                continue
            problem = _check_target(target, path.parent, where)
            if problem:
                problems.append(problem)
    assert problems == [], "\n".join(problems)


def test_every_backticked_repository_path_in_the_markdown_exists() -> None:
    found: list[tuple[str, Path, str]] = []
    for path in _markdown_files():
        for number, line in _prose_lines(path):
            for token in _INLINE_CODE.findall(line):
                if _meant_as_path(token.strip()):
                    found.append((token.strip(), path, f"{path.relative_to(ROOT)}:{number}"))
    made_at_run_time = _ignored([token.rstrip("/") for token, _, _ in found])
    missing = [
        f"{where}: `{token}`"
        for token, path, where in found
        if token.rstrip("/") not in made_at_run_time
        and _resolve(token, path.parent) is None
        and not ("/" not in token and token in _basenames())
    ]
    assert missing == [], "\n".join(missing)


def test_every_markdown_file_the_code_names_exists_with_its_section() -> None:
    named: list[tuple[str, str, Path, str]] = []
    for relative in _git("ls-files", "--cached", "--others", "--exclude-standard", *_CODE_FILES).split():
        path = ROOT / relative
        if path == Path(__file__).resolve():
            continue  # its own examples of broken references
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for name, anchor in _NAMED_MARKDOWN.findall(line):
                # A bare lower-case name is a file the code makes (`latest.md`), not one it points at.
                if "/" in name or name[:1].isupper():
                    named.append((name, anchor, path, f"{relative}:{number}"))
    made_at_run_time = _ignored([name for name, _, _, _ in named])
    problems = []
    for name, anchor, path, where in named:
        if name in made_at_run_time:
            continue
        if _resolve(name, path.parent) is None and PurePosixPath(name).name not in _basenames():
            problems.append(f"{where}: {name!r} does not exist")
        elif anchor and (problem := _check_target(name + anchor, path.parent, where)):
            problems.append(problem)
    assert problems == [], "\n".join(problems)


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The checks fail on a broken reference of each kind (a check that passes everything proves nothing)."""
    assert _meant_as_path("core/clock.py") and _meant_as_path("ops/k8s/") and _meant_as_path("settings.py")
    assert not _meant_as_path("application/json") and not _meant_as_path("/v1/workouts")
    assert not _meant_as_path("X-Consistency-Token") and not _meant_as_path("core.catalog_data")
    assert _resolve("core/clock.py", tmp_path) is not None and _resolve("core/no_such.py", tmp_path) is None
    assert slug("The `ironlog run` command, §3 (briefly)") == "the-ironlog-run-command-3-briefly"
    architecture = ROOT / "docs" / "architecture.md"
    assert _check_target("architecture.md#promises", architecture.parent, "x") is None
    assert _check_target("architecture.md#no-such-section", architecture.parent, "x") is not None
    assert _check_target("DESIGN.md", ROOT, "x") is not None
