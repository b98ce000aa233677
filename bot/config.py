"""Configuration from the environment (12-factor); values are never logged."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.replace(" ", ",").split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every variable of DESIGN.md's environment table."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", hide_input_in_errors=True)

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    heroku_api_key: SecretStr
    heroku_api_url: str = "https://api.heroku.com"
    heroku_data_api_url: str = "https://api.data.heroku.com"
    redis_url: SecretStr
    migrate_operators: Annotated[list[str], NoDecode] = Field(default_factory=list)
    migrate_approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    migrate_channel: str | None = None
    migrate_poll_seconds: float = Field(default=15.0, gt=0)
    migrate_caught_up_commits: int = Field(default=200, ge=0)
    migrate_approval_ttl_seconds: float = Field(default=3600.0, gt=0)
    # Keep the old database this long after verification before asking to destroy it.
    migrate_destroy_cooling_off_seconds: float = Field(default=0.0, ge=0)
    # `on`: an approver must be a collaborator of the app on Heroku (Slack email = Heroku email).
    migrate_heroku_access_check: bool = True
    port: int = Field(default=3000, ge=0, le=65535)
    # Set by Heroku's runtime-dyno-metadata (or by hand): the app the bot itself runs on.
    heroku_app_name: str | None = None
    # Set by Heroku on every dyno: tells that the bot runs on Heroku.
    dyno: str | None = None

    @field_validator("migrate_operators", "migrate_approvers", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    def secrets(self) -> list[str]:
        """Every secret value, so that logs and messages can be scrubbed of them."""
        values = [self.slack_bot_token, self.heroku_api_key, self.redis_url]
        values += [s for s in (self.slack_signing_secret, self.slack_app_token) if s is not None]
        return [v.get_secret_value() for v in values if v.get_secret_value()]
