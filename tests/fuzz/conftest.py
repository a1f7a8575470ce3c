"""Schema fuzzing takes minutes: it runs with `-m fuzz` (make fuzz), and is skipped otherwise."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "fuzz" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="schema fuzzing runs with `make fuzz` (pytest -m fuzz)")
    for item in items:
        if item.get_closest_marker("fuzz"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # Schemathesis 4.32's lazy schemas (`from_fixture`) read and rename `Node._nodeid`, an attribute
    # pytest 9.2 no longer has (it keeps `_id`). Give them one: pytest's own reporting never reads it.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
