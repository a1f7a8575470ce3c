"""The benchmark's own tools (ops/bench): what they read from /metrics and /proc, and that the requests
of the mobile mix are ones the API accepts."""

from __future__ import annotations

import os
import random
import uuid
from datetime import UTC, datetime, timedelta

import msgspec

from commands.events import Workout
from commands.workouts import validate_workout
from ops.bench.run import MIX, READ_PATHS, READS, Lifter, Mix
from ops.bench.stack import (
    cache_hit_ratio,
    counter_values,
    cpu_ticks,
    histogram_mean,
    process_tree,
    rss_bytes,
)

BEFORE = """# HELP ironlog_cache_requests_total Read-model reads by where they were answered from
# TYPE ironlog_cache_requests_total counter
ironlog_cache_requests_total{model="dashboard",result="hit"} 10.0
ironlog_cache_requests_total{model="dashboard",result="miss"} 5.0
ironlog_cache_requests_total{model="feed",result="hit"} 1.0
"""
AFTER = """ironlog_cache_requests_total{model="dashboard",result="hit"} 105.0
ironlog_cache_requests_total{model="dashboard",result="miss"} 6.0
ironlog_cache_requests_total{model="feed",result="hit"} 4.0
ironlog_cache_requests_total{model="workout",result="degraded"} 2.0
ironlog_cache_requests_created{model="workout",result="degraded"} 1.7e9
"""


def test_the_hit_ratio_counts_only_what_happened_between_two_scrapes() -> None:
    assert (
        counter_values(AFTER, "ironlog_cache_requests_total")[(("model", "dashboard"), ("result", "hit"))]
        == 105.0
    )
    ratio, by_result = cache_hit_ratio(BEFORE, AFTER)
    assert by_result == {"hit": 98.0, "miss": 1.0, "degraded": 2.0}
    assert ratio == 98.0 / 101.0
    assert cache_hit_ratio(AFTER, AFTER) == (None, {"hit": 0.0, "miss": 0.0, "degraded": 0.0})


def test_memory_and_cpu_are_read_for_a_process_tree() -> None:
    me = os.getpid()
    assert process_tree(me)[0] == me
    assert rss_bytes(me) > 10 * 2**20 and cpu_ticks(me) > 0
    assert rss_bytes(2**22 + 12345) == 0 and cpu_ticks(2**22 + 12345) == 0  # no such process


def test_the_mix_sends_what_the_api_takes() -> None:
    assert sum(MIX.values()) == 100 and set(READS) <= set(MIX)
    lifter = Lifter(uuid.uuid4(), {"Authorization": "Bearer t"}, [str(uuid.uuid4())], ["barbell-back-squat"])
    mix = Mix([lifter])
    rng = random.Random(1)
    kinds = {kind.name: kind for kind in mix.kinds({name: float(weight) for name, weight in MIX.items()})}
    for name in READS:
        request = kinds[name].request(rng)  # type: ignore[operator]
        assert request.method == "GET" and request.headers == lifter.headers
        assert request.path.startswith("/v1/") and (
            name not in READ_PATHS or request.path == READ_PATHS[name]
        )
    logged = kinds["log workout"].request(rng)  # type: ignore[operator]
    assert logged.method == "PUT" and logged.path.startswith("/v1/workouts/")
    workout = msgspec.json.decode(logged.body, type=Workout)
    validate_workout(workout, datetime.now(UTC))  # the API's own rules: raises if broken
    lifter.amendable.append((logged.path.rsplit("/", 1)[1], 1, workout))
    amended = kinds["amend workout"].request(rng)  # type: ignore[operator]
    assert amended.headers["If-Match"] == '"1"' and amended.path == logged.path
    assert not lifter.amendable  # in flight: no second amend of it until this one is answered


def test_the_mix_logs_each_lifters_latest_workout_but_for_late_uploads() -> None:
    now = datetime.now(UTC)
    lifter = Lifter(
        uuid.uuid4(), {}, [str(uuid.uuid4())], ["barbell-back-squat"], latest=now + timedelta(hours=3)
    )
    log = Mix([lifter]).log
    rng = random.Random(7)
    latest, late = lifter.latest, 0
    for _ in range(300):
        workout = msgspec.json.decode(log(rng).body, type=Workout)
        validate_workout(workout, now)
        if workout.started_at <= latest:  # uploaded late: days before the latest
            late += 1
            assert workout.started_at < now - timedelta(hours=23)
        else:
            latest = workout.started_at
    assert latest == lifter.latest and 0.05 <= late / 300 <= 0.15  # LATE_UPLOADS: one in ten


def test_a_histograms_mean_is_taken_over_what_was_observed_between_two_scrapes() -> None:
    before = "\n".join(
        [
            'x_seconds_count{k="a"} 2.0',
            'x_seconds_sum{k="a"} 0.5',
            'x_seconds_count{k="b"} 1',
            'x_seconds_sum{k="b"} 1',
        ]
    )
    after = "\n".join(
        [
            'x_seconds_count{k="a"} 5.0',
            'x_seconds_sum{k="a"} 1.1',
            'x_seconds_count{k="b"} 2',
            'x_seconds_sum{k="b"} 1.2',
        ]
    )
    mean, count = histogram_mean(before, after, "x_seconds")
    assert mean is not None and abs(mean - 0.2) < 1e-9 and count == 4.0
    assert histogram_mean(after, after, "x_seconds") == (None, 0.0)
