"""Documents an API process already read from Redis, kept in its memory until they may have changed.

A read model changes only when the runner projects a user's events, and the runner announces each
user's new version on `ch:projected:<user id>` after writing the documents to Redis. The process's
announcement subscription (queries/announcements.py) hands every such message here, and the user's
documents are dropped. So a document is served from memory only while:

- the subscription is live: from the moment Redis confirms it until it drops, and everything is
  forgotten whenever it drops or resubscribes, because announcements made meanwhile are lost;
- no announcement for its user arrived since it was read from Redis: each user has a counter of
  announcements, a read notes it before going to Redis, and the document is kept only if the counter
  is unchanged when the answer comes back;
- no later announcement named what it shows: each entry is kept with the read-model key it shows
  (projections/outbox.py), an announcement drops exactly the entries showing a key it names (or every
  entry of the user when it names none), and the others are known unchanged as of its version;
- the caller's own checks still pass: its consistency token, and the dashboard's "as of today";
- no read of the same user found a newer version in Redis since (`seen`), so that once a request
  was answered from a newer version, later ones are too, whichever connection announces first.

Leaderboard rankings are kept the same way, owned by their board: the runner announces a board's
changes on `ch:lb:<board>:<key>` in the same pipeline as the scores, before the user's version.

Bounded by the bytes of the bodies it holds; the least recently used go first.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import replace

from projections.cache import Cached
from projections.outbox import stale

#: What each entry costs besides its body: the key, the tuple, the Cached struct and its fields.
ENTRY_OVERHEAD_BYTES = 400
#: Users whose announcement counters are kept; a user dropped from here has their documents dropped too.
USERS_TRACKED = 200_000

#: Boards own their entries too, under an id made from their channel's name.
_BOARDS = uuid.UUID("6b1f0a52-2d7e-4c0b-9a51-3f7c2e8d9b10")

Mark = tuple[int, int]  # (epoch, the user's announcement count) when a read went to Redis


def board_owner(channel: str) -> uuid.UUID:
    """The owner id of what is kept about the board announced on `channel` (`announced` forgets it)."""
    return uuid.uuid5(_BOARDS, channel)


class MemoryCache:
    """One process's documents by Redis key, each with the user it belongs to."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._live = False
        self._epoch = 0
        #: key -> (owner, the read-model key it shows or None for "whatever the owner changes", what)
        self._entries: OrderedDict[str, tuple[uuid.UUID, str | None, Cached]] = OrderedDict()
        self._keys_of: dict[uuid.UUID, set[str]] = {}
        self._announced: OrderedDict[uuid.UUID, int] = OrderedDict()
        #: Per user, the version a `ch:changed` announcement named, until its `ch:projected` one arrives.
        self._explained: dict[uuid.UUID, int] = {}

    @property
    def enabled(self) -> bool:
        return self._live and self.max_bytes > 0

    def get(self, key: str) -> Cached | None:
        if not self._live:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[2]

    def mark(self, user_id: uuid.UUID) -> Mark:
        """Note, before reading from Redis, what `put` must find unchanged to keep the answer."""
        return self._epoch, self._announced.get(user_id, 0)

    def put(
        self, user_id: uuid.UUID, key: str, cached: Cached, mark: Mark, *, shows: str | None = None
    ) -> None:
        """Keep `cached` under `key` unless the user was announced since `mark`; `shows` is the read-model
        key it shows (None: dropped at every announcement of `user_id`)."""
        if not self.enabled or mark != self.mark(user_id):
            return
        cost = len(cached.body) + ENTRY_OVERHEAD_BYTES
        if cost > self.max_bytes // 8:
            return  # a few huge pages must not push out everything else
        self._remove(key)
        self._entries[key] = (user_id, shows, cached)
        self._keys_of.setdefault(user_id, set()).add(key)
        self.size += cost
        while self.size > self.max_bytes:
            self._remove(next(iter(self._entries)))

    def seen(self, user_id: uuid.UUID, synced: int | None) -> None:
        """Redis says the user's documents reached `synced`: forget those held from before, even if the
        announcement has not arrived yet (a read after a newer one must not go back in time)."""
        keys = self._keys_of.get(user_id)
        if not keys or synced is None:
            return
        if any((self._entries[key][2].synced or 0) < synced for key in keys):
            self._forget_user(user_id)

    # -- told by the announcement subscription ----------------------------------------------

    def changed(self, user_id: uuid.UUID, version: int, keys: frozenset[str] | None) -> None:
        """The sync says which of the user's read models changed on the way to `version`."""
        self._explained[user_id] = version
        self.announced(user_id, version, keys)

    def projected(self, user_id: uuid.UUID, version: int | None) -> None:
        """The user's documents reached `version`: already handled if the changes were named right
        before; otherwise (an erasure, a rebuild, a worker of the previous release) all may have changed."""
        if version is not None and self._explained.pop(user_id, None) == version:
            return
        self.announced(user_id)

    def announced(self, user_id: uuid.UUID, version: int = 0, changed: frozenset[str] | None = None) -> None:
        """The user's documents reached `version` and `changed` (None: all of them) changed: forget the
        entries showing those, and any read now under way; the rest are current as of `version`."""
        self._announced[user_id] = self._announced.pop(user_id, 0) + 1
        if len(self._announced) > USERS_TRACKED:
            # A count forgotten would read as unchanged to a mark taken before: forget its documents.
            oldest, _ = self._announced.popitem(last=False)
            self._forget_user(oldest)
        if changed is None:
            self._forget_user(user_id)
            return
        dropped = {shown for key in changed for shown in stale(key)}
        for key in list(self._keys_of.get(user_id, ())):
            _, shows, cached = self._entries[key]
            if shows is None or shows in dropped:
                self._remove(key)
            elif cached.synced is not None and cached.synced < version:
                # Unchanged up to `version`: `seen` must not take it for older than Redis.
                self._entries[key] = (user_id, shows, replace(cached, synced=version))

    def live(self) -> None:
        """The subscription is confirmed: from now on every announcement arrives."""
        self._forget_all()
        self._live = True

    def lost(self) -> None:
        """The subscription dropped: announcements may be missed, so nothing is served from memory."""
        self._live = False
        self._forget_all()

    # ------------------------------------------------------------------------------------------

    def _forget_all(self) -> None:
        self._epoch += 1
        self._explained.clear()
        self._entries.clear()
        self._keys_of.clear()
        self.size = 0

    def _forget_user(self, user_id: uuid.UUID) -> None:
        for key in self._keys_of.pop(user_id, ()):
            entry = self._entries.pop(key, None)
            if entry is not None:
                self.size -= len(entry[2].body) + ENTRY_OVERHEAD_BYTES

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        user_id, _, cached = entry
        self.size -= len(cached.body) + ENTRY_OVERHEAD_BYTES
        keys = self._keys_of.get(user_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_of[user_id]
