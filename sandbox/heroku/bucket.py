"""The account's request token bucket behind `RateLimit-Remaining` and 429 `rate_limit`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    """Holds at most `capacity` tokens and refills continuously at `refill_per_minute`."""

    def __init__(
        self,
        capacity: float = 4500,
        refill_per_minute: float = 75,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(capacity)
        self.refill_per_minute = float(refill_per_minute)
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()

    def take(self) -> bool:
        """Spend one token; False (and nothing spent) when the bucket is empty."""
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    @property
    def remaining(self) -> int:
        self._refill()
        return math.floor(self._tokens)

    def configure(
        self,
        *,
        capacity: float | None = None,
        refill_per_minute: float | None = None,
        tokens: float | None = None,
    ) -> None:
        self._refill()
        if capacity is not None:
            self.capacity = float(capacity)
        if refill_per_minute is not None:
            self.refill_per_minute = float(refill_per_minute)
        self._tokens = min(self.capacity, self._tokens if tokens is None else float(tokens))

    def _refill(self) -> None:
        now = self._clock()
        gained = (now - self._at) * self.refill_per_minute / 60
        self._tokens = min(self.capacity, self._tokens + gained)
        self._at = now
