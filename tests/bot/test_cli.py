"""Contracts of the command line: clear configuration errors, no secret echoed back."""

from __future__ import annotations

import os
import subprocess
import sys


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "HEROKU_", "REDIS_", "MIGRATE_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_names_the_three_entry_points() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("serve", "socket", "sandbox"):
        assert f"migrate-bot {command}" in result.stdout


def test_missing_configuration_names_the_variables_and_nothing_else() -> None:
    result = run("serve", SLACK_BOT_TOKEN="xoxb-secret-value-123")
    assert result.returncode != 0
    assert "HEROKU_API_KEY" in result.stderr and "REDIS_URL" in result.stderr
    assert "xoxb-secret-value-123" not in result.stderr + result.stdout


def test_serve_requires_the_signing_secret_and_socket_the_app_token() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "HEROKU_API_KEY": "k", "REDIS_URL": "redis://127.0.0.1:1/0"}
    assert "SLACK_SIGNING_SECRET" in run("serve", **env).stderr
    assert "SLACK_APP_TOKEN" in run("socket", **env).stderr


def test_a_malformed_setting_is_reported_without_its_value() -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "HEROKU_API_KEY": "k",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "SLACK_SIGNING_SECRET": "s",
        "MIGRATE_POLL_SECONDS": "soon-please",
    }
    result = run("serve", **env)
    assert result.returncode != 0 and "MIGRATE_POLL_SECONDS" in result.stderr
    assert "soon-please" not in result.stderr


def test_sandbox_help_shows_the_sandbox_options() -> None:
    result = run("sandbox", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: migrate-bot sandbox" in result.stdout
    for option in ("--lag-delay", "--script", "--poll"):
        assert option in result.stdout


def test_sandbox_without_its_extra_says_the_command_that_installs_it() -> None:
    # As if `pip install migrate-bot` had been run without `[sandbox]`: psycopg is absent.
    script = (
        "import sys; sys.modules['psycopg'] = None\nfrom bot.cli import main; main(['sandbox'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "pip install 'migrate-bot[sandbox]'" in result.stderr
    assert "psycopg" in result.stderr
