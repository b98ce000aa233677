"""Contracts of the shared Heroku pacing: all bot processes draw from one schedule."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.heroku import HerokuClient
from sandbox.heroku.app import create_app
from sandbox.heroku.world import World
from sandbox.server import ThreadedServer
from state.budget import SharedPacer
from state.redis import connect


@pytest.fixture
async def two_processes(redis_url: str) -> AsyncIterator[tuple[SharedPacer, SharedPacer]]:
    first, second = connect(redis_url), connect(redis_url)
    yield SharedPacer(first), SharedPacer(second)
    await first.aclose()
    await second.aclose()


async def test_reservations_from_several_processes_are_spaced_on_one_schedule(
    two_processes: tuple[SharedPacer, SharedPacer],
) -> None:
    a, b = two_processes
    before = time.time()
    delays = await asyncio.gather(*(pacer(1.0) for pacer in [a, b] * 5))
    after = time.time()
    slots = sorted(delays)
    # Ten starts, one second apart on a single schedule, wherever they were asked from.
    assert slots[-1] >= 9.0 - (after - before)
    gaps = [y - x for x, y in itertools.pairwise(slots)]
    assert min(gaps) >= 1.0 - (after - before)


async def test_a_client_low_on_budget_waits_for_its_shared_slot(redis_url: str) -> None:
    world = World()
    world.seed_app("shop", database_plan=None)
    world.configure(bucket_tokens=20)
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    redis = connect(redis_url)
    try:
        with ThreadedServer(create_app(world, api_key="k", contracts_dir=None)) as server:
            async with HerokuClient(
                SecretStr("k"),
                api_url=server.url,
                data_api_url=server.url,
                sleep=record,
                pacer=SharedPacer(redis),
            ) as client:
                for _ in range(4):
                    await client.get_app("shop")
                assert client.rate_limit_remaining is not None
                assert client.rate_limit_remaining < 20
    finally:
        await redis.aclose()
    # The first call learns the budget is low; every later one waited for its slot.
    assert len(slept) >= 2 and all(s > 0 for s in slept)
