"""Password policy and argon2id hashing, off the event loop with a cap on concurrent hashes."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from core.settings import AuthSettings

T = TypeVar("T")

MIN_LENGTH = 10
MAX_LENGTH = 256


class WeakPassword(ValueError):
    """The password breaks the policy; the message says how."""


@functools.cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships a list of 30,000 leaked passwords; only those the length rule lets through matter.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"] if len(p) >= MIN_LENGTH)


def check_password_policy(password: str, *, email: str = "", handle: str = "") -> None:
    """Raise WeakPassword when `password` is too short, too common or just the account's name."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in _common_passwords():
        raise WeakPassword("This password is one of the most common ones; choose another.")
    names = {email.lower(), email.lower().partition("@")[0], handle.lower()} - {""}
    if lowered in names:
        raise WeakPassword("The password must not be your email or handle.")


class PasswordHasher:
    """argon2id hashing on a small thread pool of its own, so logins never starve the event loop."""

    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=argon2.Type.ID,
        )
        self._pool = ThreadPoolExecutor(settings.hash_concurrency, thread_name_prefix="argon2")
        self._decoy: str | None = None

    async def _run(self, function: functools.partial[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function)

    async def hash(self, password: str) -> str:
        return await self._run(functools.partial(self._hasher.hash, password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash, spend the same time and return False."""
        if password_hash is None:
            # An unknown email costs as much as a wrong password, so timing reveals nothing.
            self._decoy = self._decoy or await self.hash("decoy password for unknown accounts")
            await self._run(functools.partial(self._check, self._decoy, password))
            return False
        return await self._run(functools.partial(self._check, password_hash, password))

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than today's."""
        return self._hasher.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
