from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.stack import Stack, start_stack, stop_stack

MakeStack = Callable[..., Stack]


def seed_shop(s: Stack) -> None:
    s.world.configure(
        provision_seconds=0.5, initial_lag=3000, apply_rate=2500, web_rate=5, worker_rate=2
    )
    s.world.seed_app("shop", formation={"web": 2, "worker": 1}, pooler=True)


@pytest.fixture
def make_stack(redis_url: str, contracts_dir: Path, tmp_path: Path) -> Iterator[MakeStack]:
    """Start Heroku and Slack stand-ins and a bot with extra environment variables."""
    started: list[Stack] = []

    def make(seed: Callable[[Stack], None] = seed_shop, **env: str) -> Stack:
        s = start_stack(redis_url, contracts_dir, tmp_path, **env)
        started.append(s)
        s.heroku.call(lambda: seed(s))
        s.bot.start()
        return s

    yield make
    for s in started:
        stop_stack(s)


@pytest.fixture
def stack(make_stack: MakeStack) -> Stack:
    """A running bot; the `shop` app has web=2, worker=1 and a pooler on its DATABASE."""
    return make_stack()
