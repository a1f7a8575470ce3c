"""The schema states the rules the API enforces (api/schema_rules.py, api/plugin.py): what a client or a
schema fuzzer reads there is what the API accepts. `make fuzz` holds the API to it on every operation;
these check the statements themselves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from api.inputs import NUL
from api.schema_rules import WITHOUT_NUL
from clients.typescript.dump_schema import openapi_document
from commands.accounts import UpdateProfile
from commands.people import BodyweightKg, BodyweightLb, as_weight
from core.units import to_kg

DOCUMENT = openapi_document()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]


def _strings(schema: dict[str, Any], path: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each string in `schema` with the schemas that apply to it (a property and its oneOf member)."""
    members = schema.get("oneOf") or [schema]
    for member in members:
        if member.get("type") == "string":
            yield path, [schema, member] if member is not schema else [schema]
        for name, value in member.get("properties", {}).items():
            yield from _strings(value, f"{path}.{name}")
        if "items" in member:
            yield from _strings(member["items"], f"{path}[]")


def _free_text(applying: list[dict[str, Any]]) -> bool:
    return not any(key in part for part in applying for key in ("format", "enum", "const"))


def _allows_nul(applying: list[dict[str, Any]]) -> bool:
    patterns = [part["pattern"] for part in applying if "pattern" in part]
    return all(re.search(pattern, f"a{NUL}b") for pattern in patterns)


REQUEST_BODIES = sorted(
    name for name, schema in SCHEMAS.items() if schema.get("additionalProperties") is False
)


@pytest.mark.parametrize("name", REQUEST_BODIES)
def test_no_request_text_admits_a_nul_character(name: str) -> None:
    texts = [(path, applying) for path, applying in _strings(SCHEMAS[name], name) if _free_text(applying)]
    assert not [path for path, applying in texts if _allows_nul(applying)]


def test_no_query_or_path_text_admits_a_nul_character() -> None:
    found = []
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("query", "path"):
                    for where, applying in _strings(
                        parameter["schema"], f"{method} {path} {parameter['name']}"
                    ):
                        if _free_text(applying) and _allows_nul(applying):
                            found.append(where)
    assert not found
    assert re.search(WITHOUT_NUL, "any text") and not re.search(WITHOUT_NUL, f"x{NUL}")


def test_optional_fields_keep_their_constraints() -> None:
    # Litestar drops the constraints of optional fields; the schema restores them.
    notes = SCHEMAS["Workout"]["properties"]["notes"]
    assert notes["maxLength"] == 5000
    handle = SCHEMAS["UpdateProfile"]["properties"]["handle"]
    assert handle["pattern"].startswith("^[A-Za-z0-9_]{3,30}")
    reps = SCHEMAS["WorkoutSet"]["properties"]["reps"]
    assert (reps["minimum"], reps["maximum"]) == (0, 1000)
    cursor = next(p for p in DOCUMENT["paths"]["/v1/workouts"]["get"]["parameters"] if p["name"] == "cursor")
    assert cursor["schema"]["maxLength"] == 512


def test_body_weight_has_its_own_bounds_in_each_unit() -> None:
    kg, lb = SCHEMAS["BodyweightKg"]["properties"], SCHEMAS["BodyweightLb"]["properties"]
    assert (kg["value"]["minimum"], kg["value"]["maximum"]) == (20, 400)
    # Every pound value the schema allows is 20-400 kg once converted, as the command requires.
    low, high = lb["value"]["minimum"], lb["value"]["maximum"]
    assert to_kg(low, "lb") >= 20 and to_kg(high, "lb") <= 400
    assert to_kg(low - 0.1, "lb") < 20 and to_kg(high + 0.1, "lb") > 400
    decode = msgspec.json.Decoder(BodyweightKg | BodyweightLb)
    assert as_weight(decode.decode(b'{"value": 181.4, "unit": "lb"}')).unit == "lb"
    with pytest.raises(msgspec.ValidationError, match="value"):
        decode.decode(b'{"value": 19.9, "unit": "kg"}')


@pytest.mark.parametrize(
    ("name", "allowed"), [("Sam", True), (" Sam ", True), ("   ", False), ("\u3000", False)]
)
def test_a_blank_display_name_is_refused_as_the_schema_says(name: str, allowed: bool) -> None:
    pattern = SCHEMAS["UpdateProfile"]["properties"]["displayName"]["pattern"]
    assert bool(re.search(pattern, name)) is allowed
    try:
        msgspec.convert({"displayName": name}, UpdateProfile)
    except msgspec.ValidationError:
        assert not allowed
    else:
        assert allowed


def test_timezones_are_documented_as_iana_names() -> None:
    timezone = SCHEMAS["UpdateProfile"]["properties"]["timezone"]
    assert "IANA" in timezone["description"] and re.search(
        timezone["pattern"], "America/Argentina/Buenos_Aires"
    )


def test_exercise_filters_are_enumerations() -> None:
    parameters = DOCUMENT["paths"]["/v1/exercises"]["get"]["parameters"]
    for name in ("muscle", "equipment", "category"):
        schema = next(p for p in parameters if p["name"] == name)["schema"]
        assert any("enum" in member for member in schema.get("oneOf", [schema])), name
