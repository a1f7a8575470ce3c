"""Redis key naming: one prefix for everything, one Cluster slot per user."""

from __future__ import annotations

import uuid

from core.redis import Keys


def test_every_key_and_channel_starts_with_the_prefix() -> None:
    keys = Keys("ironlog-test-1:")
    user = uuid.UUID("6f1c2a9e-4b7d-4c1e-9a0b-2d3e4f5a6b7c")
    assert keys.key("ping", "abc") == "ironlog-test-1:ping:abc"
    assert keys.channel("changed", str(user)).startswith("ironlog-test-1:ch:")
    assert keys.user(user, "dashboard").startswith("ironlog-test-1:")


def test_user_keys_share_one_hash_tag() -> None:
    keys = Keys("p:")
    user = uuid.uuid4()
    tags = {
        k[k.index("{") + 1 : k.index("}")] for k in (keys.user(user, "feed"), keys.user(user, "dashboard"))
    }
    assert tags == {str(user)}


def test_scan_pattern_matches_only_this_prefix_even_with_glob_characters() -> None:
    assert Keys("run[1]*:").pattern() == "run\\[1\\]\\*:*"
    assert Keys("ironlog:").pattern() == "ironlog:*"
