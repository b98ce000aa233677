"""Wiring: build every part from Settings and serve it over HTTP or Socket Mode."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot import scheduler as scheduling
from bot.audit import CallLog
from bot.authz import Directory
from bot.config import Settings
from bot.engine import Engine
from bot.heroku import HerokuClient
from bot.logs import Scrubber
from bot.notify import Deliverer
from bot.service import MigrationService
from state.budget import SharedPacer
from state.redis import connect
from state.repository import Repository

log = logging.getLogger("migrate_bot.app")


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    heroku: HerokuClient
    engine: Engine
    service: MigrationService
    bolt: AsyncApp
    scheduler: AsyncIOScheduler
    directory: Directory

    async def start(self) -> None:
        self.scheduler.start()
        for problem in await self.directory.check():
            log.error("configuration problem: %s", problem)

    async def close(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.heroku.aclose()
        await self.redis.aclose()


def build(settings: Settings) -> Runtime:
    slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
        # Only quick retries here: the outbox retries later, without holding anything up.
        retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)],
    )
    redis = connect(settings.redis_url.get_secret_value())
    repo = Repository(redis)
    calls = CallLog()
    heroku = HerokuClient(
        settings.heroku_api_key,
        api_url=settings.heroku_api_url,
        data_api_url=settings.heroku_data_api_url,
        on_call=calls,
        pacer=SharedPacer(redis),
    )
    deliverer = Deliverer(
        repo,
        slack,
        caught_up_commits=settings.migrate_caught_up_commits,
        scrub=Scrubber(settings.secrets()),
    )
    engine = Engine(repo, heroku, settings, deliverer, calls=calls)
    service = MigrationService(repo, heroku, engine, deliverer, settings)
    secret = settings.slack_signing_secret
    bolt = AsyncApp(
        client=slack,
        # Socket Mode skips request signing, so the secret is only required for `serve`.
        signing_secret=secret.get_secret_value() if secret else "",
    )
    directory = Directory(slack, settings.migrate_operators, settings.migrate_approvers)
    handlers.register(bolt, service, directory)

    @bolt.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error in a Slack listener", exc_info=error)

    return Runtime(
        settings=settings,
        redis=redis,
        heroku=heroku,
        engine=engine,
        service=service,
        bolt=bolt,
        scheduler=scheduling.build(engine, deliverer, settings.migrate_poll_seconds),
        directory=directory,
    )


def web_app(runtime: Runtime) -> web.Application:
    """`POST /slack/events` for Slack, `GET /healthz` for the router and for operators."""
    app = runtime.bolt.web_app(path="/slack/events", port=runtime.settings.port)

    async def healthz(request: web.Request) -> web.Response:
        try:
            await runtime.redis.ping()
        except Exception:
            return web.json_response({"ok": False, "redis": "unreachable"}, status=503)
        return web.json_response({"ok": True, "redis": "ok"})

    async def on_startup(app: web.Application) -> None:
        await runtime.start()

    async def on_cleanup(app: web.Application) -> None:
        await runtime.close()

    app.router.add_get("/healthz", healthz)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app
