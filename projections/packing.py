"""Read-model bodies stored deflated: the largest Postgres read models (exercise sessions, workout
documents and the workouts as logged) and every document in Redis (projections/cache.py).

A one-exercise session or a whole workout is a few hundred bytes to a few kilobytes of JSON, below
the size at which Postgres compresses a value itself (about 2 KB a row), and most of those bytes are
the same keys over and over. Deflate primed with a dictionary of those keys stores them in about a
sixth of the space. The stored value is one byte naming the dictionary (a control character, which
no JSON text starts with), then raw deflate; any other value is JSON as stored before packing, and
is read as it is.

A shipped dictionary never changes: rows packed with it stay on disk until a rebuild rewrites them.
A better dictionary gets a new id, and `pack` uses the newest.
"""

from __future__ import annotations

import zlib

from isal import isal_zlib

_WBITS = -15  # raw deflate: no zlib header or checksum, the dictionary id says how to read it
#: Packed with ISA-L's deflate (`isal`), read with zlib's inflate: any raw deflate stream reads the
#: same. Its level 1 packs the seed's sessions, workout documents and workouts as logged two to three
#: times faster than zlib's level 6 (9, 12 and 10 µs against 15-21, 34 and 22), into about a tenth
#: more bytes (ratios 4.3, 7.0 and 6.3 against 4.8, 7.7 and 7.2). Packing was a fifth of a drain's
#: worker CPU.
_LEVEL = 1

#: The keys and the common values of sessions, workout documents and workouts as logged, with the
#: most frequent last (deflate finds the nearest match first). Only ever append a new id.
_DICTIONARIES: dict[int, bytes] = {
    1: (
        b'"notes":"","supersetGroup":1,"routineId":"","endedAt":"","durationS":,"distanceM":,"rir":'
        b'"records":["bestSessionVolumeKg","bestSetVolumeKg","mostReps","bestE1rmKg","heaviestWeightKg"],'
        b'"muscles":{"primary":["chest","back","quadriceps","hamstrings","glutes","shoulders","biceps",'
        b'"triceps"],"secondary":[]},"muscleSets":{},"setCount":,"exerciseCount":,"durationMin":,'
        b'"unit":"lb"},"type":"failure","type":"dropset","completed":false,'
        b'{"id":"","version":1,"title":"Push","title":"Pull","title":"Legs","title":"Upper","title":"Lower",'
        b'"startedAt":"2026-01-01T18:00:00+00:00","exercises":[{"exerciseId":"barbell-back-squat",'
        b'"name":"Barbell Back Squat","exerciseId":"barbell-bench-press","name":"Barbell Bench Press",'
        b'"exerciseId":"barbell-deadlift","name":"Barbell Deadlift","exerciseId":"overhead-press",'
        b'"exerciseId":"dumbbell-","exerciseId":"cable-","exerciseId":"machine-","exerciseId":"leg-press",'
        b'"sets":[{"type":"warmup","completed":true,"reps":5,"weight":{"value":20.0,"unit":"kg"},'
        b'"e1rmKg":22.5}]}],"sets":[{"reps":8,"weight":{"value":60.0,"unit":"kg"},"rpe":8.0},'
        b'{"exerciseId":"barbell-row","workoutId":"","startedAt":"2026-01-01T18:00:00Z",'
        b'"volumeKg":1000.0,"totalReps":20,"workingSets":3,"bestSet":{"reps":10,'
        b'"weight":{"value":100.0,"unit":"kg"},"e1rmKg":133.33},"e1rmKg":133.33,"heaviestKg":100.0,'
        b'"mostReps":10,"bestSetVolumeKg":1000.0}'
        b'{"type":"normal","completed":true,"reps":10,"weight":{"value":100.0,"unit":"kg"},"e1rmKg":'
        b'{"type":"normal","reps":10,"weight":{"value":100.0,"unit":"kg"},"e1rmKg":'
    ),
}
_NEWEST = max(_DICTIONARIES)
_FIRST_TEXT = 0x20  # dictionary ids stay below it; JSON starts with `{`, `[`, `"`, a digit or a letter


def pack(body: bytes) -> bytes:
    """`body` (JSON) as stored: the newest dictionary's id, then the deflated bytes."""
    compressor = isal_zlib.compressobj(_LEVEL, isal_zlib.DEFLATED, _WBITS, zdict=_DICTIONARIES[_NEWEST])
    return bytes((_NEWEST,)) + compressor.compress(body) + compressor.flush()


def unpack(stored: bytes) -> bytes:
    """The JSON a stored value holds, packed or not."""
    if not stored or stored[0] >= _FIRST_TEXT:
        return bytes(stored)
    dictionary = _DICTIONARIES.get(stored[0])
    if dictionary is None:
        raise ValueError(f"a read-model value packed with an unknown dictionary: {stored[0]}")
    decompressor = zlib.decompressobj(_WBITS, dictionary)
    return decompressor.decompress(memoryview(stored)[1:]) + decompressor.flush()
