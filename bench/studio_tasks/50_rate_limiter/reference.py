from collections import defaultdict, deque


class RateLimiter:
    """At most max_calls allowed calls per key in any window of period seconds."""

    def __init__(self, max_calls: int, period: float):
        self.max_calls = max_calls
        self.period = period
        self._calls: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str, now: float) -> bool:
        """Whether a call for key at time now is allowed (and count it if so)."""
        calls = self._calls[key]
        while calls and calls[0] + self.period <= now:
            calls.popleft()
        if len(calls) >= self.max_calls:
            return False
        calls.append(now)
        return True
