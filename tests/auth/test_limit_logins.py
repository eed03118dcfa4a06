"""The sliding-window limiter behind failed-login throttling, on a clock the test controls."""

from __future__ import annotations

from aicrm.auth.ratelimit import SlidingWindowLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_logins__blocks_after_max_failures_and_slides():
    clock = Clock()
    limiter = SlidingWindowLimiter(max_events=3, window_seconds=60, clock=clock)
    key = ("alice@example.com", "10.0.0.1")
    for _ in range(3):
        assert limiter.retry_after(key) is None
        limiter.hit(key)
        clock.now += 10
    # Three failures at t=1000, 1010, 1020; now t=1030: blocked until the first one leaves the window (t=1060).
    assert limiter.retry_after(key) == 30
    assert limiter.retry_after(("alice@example.com", "10.0.0.2")) is None  # another address is not blocked
    assert limiter.retry_after(("bob@example.com", "10.0.0.1")) is None  # nor another user
    clock.now = 1060.5
    assert limiter.retry_after(key) is None  # the oldest failure slid out: one more try is allowed
    limiter.hit(key)
    assert limiter.retry_after(key) == 10 - 0.5  # blocked again until the t=1010 failure expires
    limiter.reset(key)
    assert limiter.retry_after(key) is None


def test_limit_logins__memory_is_bounded():
    clock = Clock()
    limiter = SlidingWindowLimiter(max_events=1, window_seconds=60, max_keys=100, clock=clock)
    for i in range(1000):
        limiter.hit((f"user{i}", "ip"))
    assert len(limiter._events) == 100
    assert limiter.retry_after(("user999", "ip")) is not None  # the newest keys are kept
    assert limiter.retry_after(("user0", "ip")) is None
