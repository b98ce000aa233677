"""Contracts of the project itself: lint, types, and the files Heroku and Slack read."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    "command",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",)],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_the_code_passes_lint_format_and_type_checks(command: tuple[str, ...]) -> None:
    result = run(str(BIN / command[0]), *command[1:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", readme)
    assert len(commands) == 2, "the quick start has exactly two commands"
    assert commands[1] in ci.splitlines()
    assert "pytest" in commands[1] and "migrate-bot sandbox" in commands[0]


def test_procfile_serves_the_bot_on_the_web_dyno() -> None:
    assert (ROOT / "Procfile").read_text().strip() == "web: migrate-bot serve"


def test_app_json_declares_the_required_environment_and_redis() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    required = {k for k, v in app["env"].items() if v.get("required")}
    # HEROKU_APP_NAME: a Heroku-button deploy has no dyno metadata, and without the name the
    # bot cannot refuse to migrate its own app.
    assert required == {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "HEROKU_API_KEY",
        "HEROKU_APP_NAME",
    }
    assert any(a["plan"].startswith("heroku-redis") for a in app["addons"])


def test_app_json_offers_every_migrate_setting_of_the_bot() -> None:
    from bot.config import Settings

    app = json.loads((ROOT / "app.json").read_text())
    settings = {name.upper() for name in Settings.model_fields if name.startswith("migrate_")}
    assert settings - set(app["env"]) == set()


def test_the_readme_gives_the_heroku_button_it_mentions() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "https://www.herokucdn.com/deploy/button.svg" in readme
    assert "(https://heroku.com/deploy" in readme


def test_the_quick_start_shows_its_progress_and_pins_no_python_newer_than_it_needs() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", readme)
    assert commands and all(" -q " not in c for c in commands)
    pinned = ROOT / ".python-version"
    assert not pinned.exists() or pinned.read_text().strip() == "3.11"


def test_the_slack_manifest_declares_the_command_interactivity_and_scopes() -> None:
    manifest = (ROOT / "manifest.yml").read_text()
    assert "command: /migrate" in manifest
    assert manifest.count("/slack/events") == 2
    for scope in ("commands", "chat:write", "usergroups:read", "users:read.email", "channels:join"):
        assert f"- {scope}\n" in manifest


def _modules() -> list[str]:
    found = []
    for package in ("bot", "handlers", "state"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py":
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found.append(name.removesuffix(".__init__"))
    return found


def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    # An import cycle hides until someone imports the wrong module first.
    script = (
        "import subprocess, sys\n"
        "bad = [m for m in sys.argv[1:] if subprocess.run([sys.executable, '-c', f'import {m}'],"
        " capture_output=True).returncode]\n"
        "print(' '.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *_modules()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert result.stdout.strip() == "", f"these modules fail to import alone: {result.stdout}"
