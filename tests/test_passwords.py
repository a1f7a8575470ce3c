"""Password hashing: argon2id off the event loop, never more hashes at once than configured."""

from __future__ import annotations

import asyncio
import threading
import time

import argon2

from commands.passwords import PasswordHasher, WeakPassword, check_password_policy
from core.settings import AuthSettings

CHEAP = AuthSettings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1, hash_concurrency=2)


class CountingHasher(argon2.PasswordHasher):
    """A real argon2 hasher that records how many hashes run at once, and on which threads."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0
        self.threads: set[str] = set()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
            self.threads.add(threading.current_thread().name)
        time.sleep(0.05)  # long enough for the calls to overlap if nothing held them back
        try:
            return super().hash(password, salt=salt)
        finally:
            with self.lock:
                self.active -= 1


async def test_hashes_run_on_their_own_threads_at_most_the_configured_number_at_once() -> None:
    hasher = PasswordHasher(CHEAP)
    counting = CountingHasher()
    hasher._hasher = counting
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        hashes = await asyncio.gather(*(hasher.hash(f"password-{i}-long") for i in range(8)))
    finally:
        ticker.cancel()
        hasher.close()

    assert counting.most == CHEAP.hash_concurrency
    assert all(name.startswith("argon2") for name in counting.threads)
    assert threading.current_thread().name not in counting.threads
    # 8 hashes of 50 ms two at a time take about 200 ms, during which the loop kept running.
    assert ticks >= 10
    assert all(h.startswith("$argon2id$") for h in hashes)


async def test_verify_accepts_the_password_and_refuses_others() -> None:
    hasher = PasswordHasher(CHEAP)
    try:
        stored = await hasher.hash("barbell-club-2026")
        assert await hasher.verify(stored, "barbell-club-2026")
        assert not await hasher.verify(stored, "barbell-club-2027")
        assert not await hasher.verify("not a hash", "barbell-club-2026")
        assert not await hasher.verify(None, "barbell-club-2026")
        assert not hasher.needs_rehash(stored)
        assert PasswordHasher(AuthSettings(argon2_time_cost=2, argon2_memory_kib=8)).needs_rehash(stored)
    finally:
        hasher.close()


def test_policy_names_the_rule_broken() -> None:
    for password, words in [
        ("short", "at least 10"),
        ("x" * 300, "at most"),
        ("1234567890", "common"),
        ("QWERTYUIOP", "common"),
        ("sam.lifts.a", "email"),
    ]:
        try:
            check_password_policy(password, email="sam.lifts.a@example.com", handle="sam")
        except WeakPassword as exc:
            assert words in str(exc), (password, str(exc))
        else:
            raise AssertionError(f"{password!r} was accepted")
    check_password_policy("plates-and-chalk-42", email="sam@example.com", handle="sam")
