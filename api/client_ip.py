"""The client's address: the peer, or the forwarded address when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from litestar.types import Scope

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class ClientAddresses:
    """Resolves client addresses; headers count only when the peer is one of `trusted_proxies`.

    With X-Forwarded-For the list is read from the right, skipping trusted proxies, so a client
    cannot choose its address by sending the header itself.
    """

    def __init__(self, trusted_proxies: Sequence[str], header: str) -> None:
        self._trusted: tuple[IPNetwork, ...] = tuple(ipaddress.ip_network(n) for n in trusted_proxies)
        self._header = header.lower().encode("latin-1")

    def _is_trusted(self, text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in network for network in self._trusted)

    def of(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if not self._trusted or not self._is_trusted(peer):
            return peer
        values = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == self._header]
        hops = [hop.strip() for value in values for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            if self._is_trusted(hop):
                continue
            address = _address(hop)
            return str(address) if address is not None else peer
        # Every hop is one of ours: the left-most is as close to the client as can be known.
        first = _address(hops[0]) if hops else None
        return str(first) if first is not None else peer
