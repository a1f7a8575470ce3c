"""A provider's published signing keys (its JWKS), fetched over HTTPS and kept as its Cache-Control says.

A key id the set does not hold makes one refetch (keys rotate: a new key may be in use before our copy
expires), but whatever asks, the set is fetched at most once a minute, so tokens naming made-up key ids
cannot make us hammer the provider. Times are the product's clock (core.clock), so tests move them.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from typing import Any

import httpx
import jwt
import structlog

from core import clock

log = structlog.get_logger(__name__)

#: The least time between two fetches of one set, whatever asks for them.
MIN_REFETCH_S = 60.0
#: The algorithms of the keys taken from a set (and of the ID tokens accepted).
ALGORITHMS = ("RS256", "ES256")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)


class KeysUnavailable(Exception):
    """The key set could not be fetched and no copy of it holds the key asked for."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def freshness_s(headers: Mapping[str, str]) -> float:
    """How long a response may be used, from its Cache-Control (max-age, less its Age); 0 when it may
    not be cached or does not say."""
    cache_control = headers.get("cache-control", "")
    if _NO_CACHE.search(cache_control):
        return 0.0
    max_age = _MAX_AGE.search(cache_control)
    if max_age is None:
        return 0.0
    age = headers.get("age", "0").strip()
    return max(0.0, float(max_age.group(1)) - (float(age) if age.isdigit() else 0.0))


def signing_keys(document: Any) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document by key id: RS256 and ES256 keys meant for signatures.
    Anything else in it (encryption keys, other algorithms, malformed entries) is left out."""
    keys: dict[str, jwt.PyJWK] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[entry["kid"]] = key
    return keys


class KeySet:
    """One provider's key set: the keys of the last good fetch, and when they are to be fetched again."""

    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self.url = url
        self._http = http
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fresh_until = -math.inf
        self._attempted_at = -math.inf
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key with id `kid`, fetching the set when ours is stale or lacks it (at most once a minute);
        None when the provider does not publish it. KeysUnavailable when the set cannot be had."""
        if kid in self._keys and clock.timestamp() < self._fresh_until:
            return self._keys[kid]
        async with self._lock:  # one fetch at a time; those who waited find its result
            now = clock.timestamp()
            wanted = kid not in self._keys or now >= self._fresh_until
            failure = None
            if wanted and now - self._attempted_at >= MIN_REFETCH_S:
                failure = await self._fetch(now)
            if kid in self._keys:
                return self._keys[kid]  # stale perhaps: the best there is until the next fetch
            if failure is not None or not self._keys:
                wait = max(1, math.ceil(self._attempted_at + MIN_REFETCH_S - now))
                raise KeysUnavailable(failure or f"no signing keys could be fetched from {self.url}", wait)
            return None

    async def _fetch(self, now: float) -> str | None:
        """Replace the keys with the published ones; what went wrong, when something did (keys kept)."""
        self._attempted_at = now
        try:
            response = await self._http.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            keys = signing_keys(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("jwks_fetch_failed", url=self.url, error=repr(exc))
            return f"the signing keys at {self.url} could not be fetched"
        if not keys:
            log.warning("jwks_without_keys", url=self.url)
            return f"{self.url} publishes no usable signing key"
        self._keys = keys
        self._fresh_until = now + freshness_s(response.headers)
        log.info("jwks_fetched", url=self.url, keys=sorted(keys), fresh_s=self._fresh_until - now)
        return None
