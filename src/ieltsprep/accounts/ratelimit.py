"""Fixed-window rate limits kept as counters in the SESSIONS table (TTL ends each window)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ieltsprep.adapters.storage.port import Key, Store, Table, Update
from ieltsprep.errors import RateLimited
from ieltsprep.ids import now_epoch


class RateLimiter:
    """Counts attempts per (scope, subject) in windows of ``window_seconds``; raises RateLimited past the limit."""

    def __init__(self, store: Store, *, clock: Callable[[], int] = now_epoch) -> None:
        self._store = store
        self._clock = clock

    def hit(self, scope: str, subject: str, *, limit: int, window_seconds: int) -> None:
        """Count one attempt; RateLimited (with ``retry_after``) when this window already saw ``limit``."""
        now = self._clock()
        start = now - now % window_seconds
        end = start + window_seconds
        # Subjects (emails, IPs) are hashed so the counters hold no personal data.
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        key = Key(f"RATE#{scope}#{digest}", f"WINDOW#{start}")
        item = self._store.update(Update(Table.SESSIONS, key, add={"count": 1}, set={"expires_at": end}))
        if int(item["count"]) > limit:
            raise RateLimited("too many attempts; try again later", retry_after=max(1, end - now))
