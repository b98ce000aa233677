"""Wiring: build every part from Settings and serve it over HTTP or Socket Mode."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot import scheduler as scheduling
from bot.access import ApproverAccess
from bot.audit import CallLog
from bot.authz import Directory
from bot.channels import ChannelCheck
from bot.config import Settings
from bot.engine import Engine
from bot.heroku import HerokuClient
from bot.identity import BotIdentity
from bot.logs import Scrubber
from bot.service import MigrationService
from bot.slack.deliver import Deliverer
from bot.slack.hooks import SlackHooks
from state.budget import SharedPacer
from state.redis import connect
from state.repository import Repository

log = logging.getLogger("migrate_bot.app")

EVENTS_PATH = "/slack/events"
SIGNATURE_MAX_AGE = 300


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
    identity: BotIdentity

    async def start(self) -> None:
        self.scheduler.start()
        self.identity.start()
        if self.settings.dyno and not self.settings.heroku_app_name:
            log.error(
                "HEROKU_APP_NAME is not set: the bot cannot tell which app it runs on, so the "
                "guard that stops it migrating its own app is OFF. Set HEROKU_APP_NAME to this "
                "app's name, or run `heroku labs:enable runtime-dyno-metadata` on it."
            )
        for problem in await self.directory.check():
            log.error("configuration problem: %s", problem)

    async def close(self) -> None:
        await self.identity.close()
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
    scrub = Scrubber(settings.secrets())
    deliverer = Deliverer(
        repo, slack, caught_up_commits=settings.migrate_caught_up_commits, scrub=scrub
    )
    hooks = SlackHooks(deliverer)
    engine = Engine(repo, heroku, settings, hooks, calls=calls, scrub=scrub)
    access = ApproverAccess(slack, heroku, enabled=settings.migrate_heroku_access_check)
    service = MigrationService(
        repo, heroku, engine, hooks, settings, access=access, channels=ChannelCheck(slack)
    )
    secret = settings.slack_signing_secret
    identity = BotIdentity(slack)
    bolt = AsyncApp(
        # A client without a token: each request's client gets it from `authorize`, which
        # answers from memory so that no auth.test call ever stands before an ack.
        client=AsyncWebClient(base_url=settings.slack_api_url, timeout=10),
        authorize=identity.authorizer(),
        # Socket Mode skips request signing, so the secret is only required for `serve`.
        signing_secret=secret.get_secret_value() if secret else "",
    )
    directory = Directory(slack, settings.migrate_operators, settings.migrate_approvers)
    handlers.register(bolt, service, directory, scrub)

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
        identity=identity,
    )


def malformed(body: bytes) -> str | None:
    """Why a signed body cannot be an interaction Slack sends, or None if it may be."""
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return "not UTF-8"
    if "payload" not in form:
        return None  # a slash command: its fields are checked by the command handler
    try:
        payload = json.loads(form["payload"][0])
    except ValueError:
        return "payload is not JSON"
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        return "payload is not an object with a type"
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return "payload has no user"
    if "channel" in payload and not isinstance(payload["channel"], dict | None):
        return "channel is not an object"
    if payload["type"] == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            return "no actions"
        if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
            return "an action without an action_id"
    return None


def signed(secret: bytes, body: bytes, timestamp: str, signature: str, now: float) -> bool:
    """Slack's v0 signature over the raw bytes, at most 5 minutes old (any body, any bytes)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def _slack_guard(signing_secret: str) -> Any:
    """Check Slack's signature before anything parses the body, and never answer 5xx.

    Bolt parses a payload before verifying it and raises on malformed ones; a forged or broken
    request must get 401, and a signed but unreadable one an empty 200 (Slack's ack), not a
    stack trace.
    """
    secret = signing_secret.encode()

    @web.middleware
    async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != EVENTS_PATH or request.method != "POST":
            return await handler(request)  # type: ignore[no-any-return]
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not signed(secret, body, timestamp, signature, time.time()):
            return web.json_response({"error": "invalid request"}, status=401)
        problem = malformed(body)
        if problem is not None:
            log.warning(
                "malformed Slack request acknowledged and ignored", extra={"problem": problem}
            )
            return web.Response(status=200)
        try:
            response: web.StreamResponse = await handler(request)
        except Exception as exc:
            log.warning("unreadable Slack request ignored", extra={"error": type(exc).__name__})
            return web.Response(status=200)
        if response.status == 404 or response.status >= 500:
            # Unhandled interaction, or Bolt choking on a payload: ack, never a 5xx to Slack.
            return web.Response(status=200)
        return response

    return guard


def web_app(runtime: Runtime) -> web.Application:
    """`POST /slack/events` for Slack, `GET /healthz` for the router and for operators."""
    app = runtime.bolt.web_app(path=EVENTS_PATH, port=runtime.settings.port)
    secret = runtime.settings.slack_signing_secret
    if secret is not None:
        app.middlewares.append(_slack_guard(secret.get_secret_value()))

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
