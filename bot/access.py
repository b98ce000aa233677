"""Who may approve is who may operate the app: Slack email against Heroku collaborators.

With MIGRATE_HEROKU_ACCESS_CHECK on, an approver's Slack email (`users.info`, scope
`users:read.email`) must be a collaborator of every app the migration takes down
(`GET /apps/{app}/collaborators`); on a team app with `operate` or `manage`. Both lookups are
cached briefly, and run after the click was acknowledged, never before.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import AccessDenied
from bot.heroku import Collaborator, HerokuClient
from bot.heroku.errors import HerokuError
from bot.slack.mrkdwn import escape

EMAIL_CACHE_SECONDS = 300.0
COLLABORATORS_CACHE_SECONDS = 60.0
OPERATE = frozenset({"operate", "manage"})


@dataclass
class _Cached:
    at: float
    value: object


class ApproverAccess:
    """Refuses an approval by someone who could not run the migration's steps on Heroku."""

    def __init__(self, slack: AsyncWebClient, heroku: HerokuClient, *, enabled: bool) -> None:
        self.slack = slack
        self.heroku = heroku
        self.enabled = enabled
        self._emails: dict[str, _Cached] = {}
        self._collaborators: dict[str, _Cached] = {}

    async def check(self, user: str, apps: list[str]) -> None:
        """Raise AccessDenied with the reason if `user` may not approve for `apps`."""
        if not self.enabled:
            return
        email = await self._email(user)
        if not email:
            raise AccessDenied(
                "Slack does not give the bot your email (the Slack app needs the "
                "users:read.email scope, or your profile has no email), so it cannot check that "
                "you may operate the app on Heroku. Ask an admin to reinstall the Slack app, or "
                "set MIGRATE_HEROKU_ACCESS_CHECK=off."
            )
        for app in apps:
            collaborator = (await self._team(app)).get(email.lower())
            if collaborator is None:
                raise AccessDenied(
                    f"Your Slack email {escape(email)} is not a collaborator of {escape(app)} on "
                    "Heroku, so you cannot approve its migration (MIGRATE_HEROKU_ACCESS_CHECK). "
                    f"An admin can add you: `heroku access:add {escape(email)} -a {escape(app)}`."
                )
            granted = {p.name for p in collaborator.permissions}
            if granted and not granted & OPERATE:
                raise AccessDenied(
                    f"On Heroku you may only {escape(', '.join(sorted(granted)))} {escape(app)}; "
                    "approving its migration needs the operate permission."
                )

    async def _email(self, user: str) -> str | None:
        cached = self._emails.get(user)
        if cached is not None and time.monotonic() - cached.at < EMAIL_CACHE_SECONDS:
            return cached.value if isinstance(cached.value, str) else None
        try:
            response = await self.slack.users_info(user=user)
        except SlackApiError as exc:
            raise AccessDenied(
                f"The bot could not read your Slack profile ({escape(exc.response.get('error'))}) "
                "to check your Heroku access; nothing was changed. Try again in a moment."
            ) from None
        profile = (response.get("user") or {}).get("profile") or {}
        email = profile.get("email") if isinstance(profile.get("email"), str) else None
        self._emails[user] = _Cached(time.monotonic(), email)
        return email

    async def _team(self, app: str) -> dict[str, Collaborator]:
        cached = self._collaborators.get(app)
        if cached is not None and time.monotonic() - cached.at < COLLABORATORS_CACHE_SECONDS:
            assert isinstance(cached.value, dict)
            return cached.value
        try:
            found = await self.heroku.list_collaborators(app)
        except HerokuError as exc:
            raise AccessDenied(
                f"The bot could not read who may operate {escape(app)} on Heroku "
                f"({escape(type(exc).__name__)}); nothing was changed. Try again in a moment."
            ) from None
        team = {c.email.lower(): c for c in found}
        self._collaborators[app] = _Cached(time.monotonic(), team)
        return team
