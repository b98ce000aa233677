"""Heroku's request budget is per account: pace every bot process from one Redis schedule."""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio import Redis

from state import keys

# Reserve the next start time: slot = max(now, last slot + interval), atomically.
_RESERVE = """
local now = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0') + tonumber(ARGV[2]))
redis.call('SET', KEYS[1], tostring(slot), 'EX', 3600)
return tostring(slot)
"""


class SharedPacer:
    """When Heroku's budget runs low, request starts of all processes are spaced apart."""

    def __init__(self, redis: Redis) -> None:
        self._redis: Any = redis

    async def __call__(self, interval: float) -> float:
        """Seconds to wait before this request may start."""
        now = time.time()
        slot = float(await self._redis.eval(_RESERVE, 1, keys.heroku_pace(), now, interval))
        return max(0.0, slot - now)
