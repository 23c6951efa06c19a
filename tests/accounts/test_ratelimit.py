"""Fixed-window rate limiting on the store."""

from __future__ import annotations

import pytest

from ieltsprep.accounts.ratelimit import RateLimiter
from ieltsprep.adapters.storage.sqlite import SqliteStore
from ieltsprep.errors import RateLimited


class Clock:
    """A settable clock shared by the store (TTL) and the limiter."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_limit_allows_n_attempts_then_raises_with_seconds_to_window_end(tmp_path) -> None:
    clock = Clock(1_000_020)  # 20 s into a 60 s window that starts at 1_000_020 - 1_000_020 % 60
    store = SqliteStore(tmp_path / "s.db", clock=clock)
    limiter = RateLimiter(store, clock=clock)
    for _ in range(3):
        limiter.hit("login-ip", "198.51.100.1", limit=3, window_seconds=60)
    with pytest.raises(RateLimited) as caught:
        limiter.hit("login-ip", "198.51.100.1", limit=3, window_seconds=60)
    window_end = 1_000_020 - 1_000_020 % 60 + 60
    assert caught.value.retry_after == window_end - clock.now
    assert caught.value.status == 429


def test_limits_are_separate_per_subject_and_scope(tmp_path) -> None:
    clock = Clock(2_000_000)
    limiter = RateLimiter(SqliteStore(tmp_path / "s.db", clock=clock), clock=clock)
    limiter.hit("login-ip", "a", limit=1, window_seconds=60)
    limiter.hit("login-ip", "b", limit=1, window_seconds=60)
    limiter.hit("register-ip", "a", limit=1, window_seconds=60)
    with pytest.raises(RateLimited):
        limiter.hit("login-ip", "a", limit=1, window_seconds=60)


def test_a_new_window_starts_counting_afresh(tmp_path) -> None:
    clock = Clock(3_000_000)
    limiter = RateLimiter(SqliteStore(tmp_path / "s.db", clock=clock), clock=clock)
    limiter.hit("login-email", "a@example.com", limit=1, window_seconds=60)
    with pytest.raises(RateLimited):
        limiter.hit("login-email", "a@example.com", limit=1, window_seconds=60)
    clock.now += 60
    limiter.hit("login-email", "a@example.com", limit=1, window_seconds=60)


def test_counters_store_no_raw_subject(tmp_path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    RateLimiter(store).hit("login-email", "private@example.com", limit=5, window_seconds=60)
    raw = (tmp_path / "s.db").read_bytes() + (tmp_path / "s.db-wal").read_bytes()
    assert b"private@example.com" not in raw
