"""HTTP metrics gathered in memory (core/metrics.py, RequestMetrics) read as observing each request would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.metrics import RequestMetrics

BUCKETS = (0.001, 0.01, 0.1, 1.0)
DURATIONS = [0.0, 0.0005, 0.001, 0.0010001, 0.05, 0.1, 0.7, 3.0, 0.002]


def _histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram("t_seconds", "test", ["method", "route", "status"], buckets=BUCKETS, registry=registry)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def test_a_flush_writes_what_observing_each_request_would() -> None:
    direct_registry, gathered_registry = CollectorRegistry(), CollectorRegistry()
    direct = _histogram(direct_registry)
    metrics = RequestMetrics(
        _histogram(gathered_registry), Gauge("t_in_flight", "test", registry=gathered_registry)
    )
    for index, seconds in enumerate(DURATIONS):
        status = 200 if index % 3 else 404
        direct.labels("GET", "/v1/x/{id}", str(status)).observe(seconds)
        metrics.observe("GET", "/v1/x/{id}", status, seconds)

    assert (
        gathered_registry.get_sample_value(
            "t_seconds_count", {"method": "GET", "route": "/v1/x/{id}", "status": "200"}
        )
        is None
    )
    metrics.flush()
    assert _samples(gathered_registry) == {
        **_samples(direct_registry),
        ("t_in_flight", ()): 0.0,
    }
    metrics.flush()  # nothing new: nothing counted twice
    assert (
        _samples(gathered_registry)[
            ("t_seconds_count", (("method", "GET"), ("route", "/v1/x/{id}"), ("status", "200")))
        ]
        == 6
    )


def test_the_in_flight_gauge_shows_the_count_at_the_last_flush() -> None:
    registry = CollectorRegistry()
    metrics = RequestMetrics(_histogram(registry), Gauge("t_in_flight", "test", registry=registry))
    metrics.in_flight += 3
    metrics.flush()
    assert registry.get_sample_value("t_in_flight") == 3
    metrics.in_flight -= 3
    metrics.flush()
    assert registry.get_sample_value("t_in_flight") == 0


def test_a_deferred_counter_is_written_by_the_flush_as_counting_each_time_would() -> None:
    registry = CollectorRegistry()
    metrics = RequestMetrics(_histogram(registry), Gauge("t_in_flight", "test", registry=registry))
    labelled = metrics.defer(Counter("t_reads", "test", ["model", "result"], registry=registry))
    plain = metrics.defer(Counter("t_hits", "test", registry=registry))
    for _ in range(3):
        labelled.inc("dashboard", "hit")
    labelled.inc("feed", "hit")
    plain.inc()

    assert registry.get_sample_value("t_reads_total", {"model": "dashboard", "result": "hit"}) is None
    metrics.flush()
    metrics.flush()  # nothing new: nothing counted twice
    assert registry.get_sample_value("t_reads_total", {"model": "dashboard", "result": "hit"}) == 3
    assert registry.get_sample_value("t_reads_total", {"model": "feed", "result": "hit"}) == 1
    assert registry.get_sample_value("t_hits_total") == 1
