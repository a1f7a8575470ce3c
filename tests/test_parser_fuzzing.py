"""The fuzz targets of the untrusted-input parsers (tests/fuzzing), replayed on every committed input:
the seeds, and every input that ever broke a parser, so that no crash the fuzzer found comes back.
`make fuzz-parsers` runs the fuzzer itself (RELIABILITY.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzzing import targets
from tests.fuzzing.targets import TARGETS, ContractBroken

FUZZING = Path(targets.__file__).resolve().parent
INPUTS = sorted(
    (kind, path.parent.name, path)
    for kind in ("seeds", "crashes")
    for path in (FUZZING / kind).glob("*/*")
    if path.is_file()
)


def test_every_target_has_seeds_and_every_input_a_target() -> None:
    assert {target for kind, target, _ in INPUTS if kind == "seeds"} == set(TARGETS)
    assert {target for _, target, _ in INPUTS} <= set(TARGETS)


@pytest.mark.parametrize(
    ("kind", "target", "path"), INPUTS, ids=[f"{kind}/{target}/{path.name}" for kind, target, path in INPUTS]
)
def test_a_committed_input_keeps_its_parser_within_its_contract(kind: str, target: str, path: Path) -> None:
    TARGETS[target](path.read_bytes())


def test_the_seeds_reach_past_the_refusals() -> None:
    # Seeds the parsers refuse outright would leave the fuzzer to find the formats by chance.
    from commands.imports.parsers import parse_csv

    for path in (FUZZING / "seeds" / "import_csv").iterdir():
        assert parse_csv(path.read_bytes()[1:], weight_unit="kg", timezone="UTC").workouts, path.name


def test_a_target_reports_an_error_outside_its_parsers_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(raw: str) -> int:
        return int(raw)  # the parser as it was: "²" passed str.isdigit and broke int()

    monkeypatch.setattr(targets, "parse_consistency_token", crash)
    with pytest.raises(ValueError):
        targets.consistency_token(
            (FUZZING / "crashes" / "consistency_token" / "superscript-two").read_bytes()
        )
    monkeypatch.setattr(targets, "parse_consistency_token", lambda raw: -1)
    with pytest.raises(ContractBroken):
        targets.consistency_token(b"1")
