"""`python -m tests.fuzzing TARGET [libFuzzer flags]`: fuzz one target of tests/fuzzing/targets.py
with atheris, from its committed seeds, growing a working corpus under .fuzz/ (git-ignored).

A crash stops the run with the input written to .fuzz/crashes/TARGET/; commit it under
tests/fuzzing/crashes/TARGET/ with the fix, and tests/test_parser_fuzzing.py replays it for good.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
WORK = HERE.parent.parent / ".fuzz"


def main() -> None:
    name, flags = sys.argv[1], sys.argv[2:]
    with atheris.instrument_imports(include=["commands", "core", "api", "projections", "queries"]):
        from tests.fuzzing.targets import TARGETS
    target = TARGETS[name]
    corpus = WORK / "corpus" / name
    crashes = WORK / "crashes" / name
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    directories = [str(corpus), str(HERE / "seeds" / name)]
    regressions = HERE / "crashes" / name
    if regressions.is_dir():
        directories.append(str(regressions))
    argv = [sys.argv[0], f"-artifact_prefix={crashes}/", "-timeout=10", "-rss_limit_mb=2048", *flags]
    atheris.Setup([*argv, *directories], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
