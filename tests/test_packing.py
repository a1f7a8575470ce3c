"""Read-model bodies stored deflated (projections/packing.py): every body comes back byte for byte,
rows stored before packing are read as they are, and what is on disk stays readable."""

from __future__ import annotations

import uuid
from datetime import date

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.bulk import LogWorkout
from commands.events import EVENT_ENCODER
from commands.seed import history_of, plan_users
from projections.packing import _DICTIONARIES, pack, unpack
from tests.workouts import workout

SESSION = (
    b'{"exerciseId":"barbell-bench-press","sets":[{"type":"normal","reps":5,'
    b'"weight":{"value":100.0,"unit":"kg"},"e1rmKg":116.67}],"volumeKg":500.0}'
)
#: `pack(SESSION)` as the first dictionary stores it. Rows like it are on disk: if this stops
#: decoding, a shipped dictionary was changed and those rows would be unreadable.
SESSION_PACKED = bytes.fromhex("01c3952f5172167a2244b3145b9ac31bd086667a66e6a0448788655370800100")


@given(st.binary(max_size=4096))
def test_any_body_comes_back_byte_for_byte(body: bytes) -> None:
    assert unpack(pack(body)) == body


def test_a_body_stored_before_packing_is_read_as_it_is() -> None:
    for body in (SESSION, b'[{"id":1}]', b'"text"', b"12", b"true", b"null", b""):
        assert unpack(body) == body


def test_dictionary_ids_are_below_any_first_byte_of_json() -> None:
    assert all(0 < dictionary < 0x20 for dictionary in _DICTIONARIES)


def test_what_the_first_dictionary_stored_stays_readable() -> None:
    assert unpack(SESSION_PACKED) == SESSION


def test_a_workout_is_stored_in_a_fraction_of_its_json() -> None:
    body = msgspec.json.encode(workout(startedAt="2026-11-26T18:00:00+01:00"))  # two sets: 276 bytes
    packed = pack(body)
    assert packed[0] == 1 and len(packed) * 2 < len(body)
    # A lifter's real workouts (the seed's, about 20 sets each) are where the bytes are.
    plan = plan_users(3, 1, 2, date(2026, 11, 1))
    logged = [
        EVENT_ENCODER.encode(op.workout)
        for op in history_of(plan, 0, [uuid.uuid4()]).operations
        if isinstance(op, LogWorkout)
    ]
    assert len(logged) > 5
    assert sum(len(pack(body)) for body in logged) * 5 < sum(map(len, logged))


def test_a_value_packed_with_an_unknown_dictionary_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dictionary: 31"):
        unpack(bytes((31,)) + SESSION_PACKED[1:])
