"""An in-process sliding-window limiter for failed logins, keyed by (username, client address)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """Allows ``max_events`` events per key in any ``window_seconds``; thread-safe, bounded memory.

    Each worker process keeps its own window, so with N uvicorn workers an attacker gets at most N times
    the budget: still a hard cap on password guessing, without a shared store such as Redis.
    """

    def __init__(self, *, max_events: int, window_seconds: float, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_events = max_events
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._events: OrderedDict[tuple, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _prune(self, key: tuple, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window_seconds:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def retry_after(self, key: tuple) -> float | None:
        """Seconds until ``key`` may try again, or None when it is not limited."""
        with self._lock:
            now = self.clock()
            events = self._prune(key, now)
            if events is None or len(events) < self.max_events:
                return None
            return max(events[0] + self.window_seconds - now, 0.0)

    def hit(self, key: tuple) -> None:
        """Record one event (a failed login) for ``key``."""
        with self._lock:
            now = self.clock()
            events = self._prune(key, now)
            if events is None:
                events = self._events[key] = deque()
                # Forget the least recently seen keys rather than grow without bound under a spray attack.
                while len(self._events) > self.max_keys:
                    self._events.popitem(last=False)
            else:
                self._events.move_to_end(key)
            events.append(now)

    def reset(self, key: tuple) -> None:
        with self._lock:
            self._events.pop(key, None)
