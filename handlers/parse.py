"""Parse the text of a `/migrate` slash command into a typed command; pure, no I/O.

`parse_command` returns one of the frozen models below or raises `CommandError`, whose
message says what was wrong and whose `usage` is the usage line to show with it.
"""

from __future__ import annotations

import difflib
import html
import re
import unicodedata
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.methods import REGISTRY

USAGE = """\
/migrate help
/migrate plan   APP --to PLAN [--from DATABASE] [--method METHOD] [--target-app APP2] [--version N]
/migrate start  APP --to PLAN [--from DATABASE] [--method METHOD] [--target-app APP2] [--version N]
/migrate status [ID]
/migrate list
/migrate cancel ID"""

MAX_LENGTH = 500
SUPPORTED_METHODS = tuple(REGISTRY)
# The roads DESIGN.md names; those not yet registered are refused with what to do today.
KNOWN_METHODS = tuple(dict.fromkeys((*SUPPORTED_METHODS, "upgrade", "advanced", "dump-restore")))
_BY_HAND = {
    "upgrade": "Heroku's `heroku pg:upgrade:run` on a follower does it by hand",
    "advanced": "Heroku's `heroku data:pg:migrate` does it by hand",
    "dump-restore": "Heroku's `heroku pg:copy` does it by hand",
}
VERSION_PATTERN = r"^[1-9][0-9]?$"
POSTGRES_SERVICE = "heroku-postgresql"

# `app/definitions/name` in the Platform API schema.
APP_NAME_PATTERN = r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$"
PLAN_PATTERN = r"^heroku-postgresql:[a-z][a-z0-9]*(-[a-z0-9]+)*$"
# Attachment names (DATABASE, HEROKU_POSTGRESQL_GREEN) or `add-on/definitions/name`.
SOURCE_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
MIGRATION_ID_PATTERN = r"^mig-[a-z0-9]{6}$"

AppName = Annotated[str, StringConstraints(pattern=APP_NAME_PATTERN)]
PlanName = Annotated[str, StringConstraints(pattern=PLAN_PATTERN, max_length=80)]
SourceName = Annotated[str, StringConstraints(pattern=SOURCE_PATTERN, max_length=100)]
MigrationId = Annotated[str, StringConstraints(pattern=MIGRATION_ID_PATTERN)]
MajorVersion = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HelpCommand(_Command):
    """`/migrate help`, or no text at all."""


class PlanCommand(_Command):
    """`/migrate plan`: show the steps, gates and expected downtime; change nothing."""

    app: AppName
    plan: PlanName
    source: SourceName = "DATABASE"
    method: str = "changeover"
    target_app: AppName | None = None
    # `--version N`: the PostgreSQL major version wanted on the new database.
    version: MajorVersion | None = None

    @field_validator("method")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(f"method must be one of {', '.join(REGISTRY)}")
        return value

    @model_validator(mode="after")
    def _target_app_differs(self) -> Self:
        if self.target_app == self.app:
            raise ValueError("target_app must differ from app")
        return self


class StartCommand(PlanCommand):
    """`/migrate start`: same arguments as plan, but runs the migration."""


class StatusCommand(_Command):
    """`/migrate status [ID]`: one migration, or every active one when no id is given."""

    migration_id: MigrationId | None = None


class ListCommand(_Command):
    """`/migrate list`: recent and active migrations."""


class CancelCommand(_Command):
    """`/migrate cancel ID`."""

    migration_id: MigrationId


Command = HelpCommand | PlanCommand | StartCommand | StatusCommand | ListCommand | CancelCommand


class CommandError(ValueError):
    """The text is not a valid command; `message` says why, `usage` is the line to show."""

    def __init__(self, message: str, usage: str = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage

    def __str__(self) -> str:
        return self.message


_USAGE_LINES = {line.split()[1]: line for line in USAGE.splitlines()}
_SUBCOMMANDS = tuple(_USAGE_LINES)
_HELP_WORDS = frozenset({"help", "--help", "-h", "?"})
_MIGRATION_OPTIONS = ("--to", "--from", "--method", "--target-app", "--version")
_EXAMPLE_ID = "mig-7f3k2q"
_VALUE_HINTS = {
    "--to": "which plan should the new database be on? e.g. --to standard-2",
    "--from": "which database to migrate? e.g. --from DATABASE (the default)",
    "--method": "how to migrate? e.g. --method changeover",
    "--target-app": "which app should the new database live in? e.g. --target-app myapp-ps",
    "--version": "which PostgreSQL major version? e.g. --version 17",
}

# Zero-width characters ride along with copy and paste and are invisible; drop them.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_QUOTES = "\"'`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a"
# Hyphen look-alikes: macOS and Slack turn `--` into an en or em dash.
_DASH_RUN = re.compile(r"^[-\u2010-\u2015\u2212\ufe58\ufe63\uff0d]+")
# Credentials people paste by mistake: URLs with a password, Slack and Heroku tokens.
_CREDENTIAL = re.compile(r"://[^/\s]*@|xox[a-z]-|xapp-|hrku-", re.IGNORECASE)
_LONG_RUN = re.compile(r"[A-Za-z0-9]{32,}")
# Also never echoed: anything URL-like and UUIDs (legacy Heroku API keys are UUIDs).
_UNSHOWN = re.compile(r"://|@|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", re.IGNORECASE)
_ECHO_LIMIT = 40


def parse_command(text: str) -> Command:
    """Parse slash-command text; raise CommandError (and nothing else) when it is not valid."""
    try:
        return _parse(text)
    except ValidationError:
        # The parser checks every field first; this only guards against a drift between the two.
        raise CommandError("That command could not be read; check it against the usage.") from None


def _parse(text: str) -> Command:
    if len(text) > MAX_LENGTH:
        raise CommandError(
            f"That is {len(text):,} characters; /migrate takes at most {MAX_LENGTH}. "
            "Was something pasted by accident?"
        )
    tokens = _tokens(text)
    if not tokens or tokens[0].lower() in _HELP_WORDS:
        return HelpCommand()
    sub = tokens[0].lower()
    if sub.startswith("--"):
        raise CommandError(
            "Start with a subcommand, then the options: "
            f"/migrate {' | '.join(_SUBCOMMANDS)} ... (e.g. /migrate start myapp --to standard-2)."
        )
    if sub not in _USAGE_LINES:
        raise CommandError(
            f"{_shown(tokens[0])} is not a /migrate subcommand{_did_you_mean(sub, _SUBCOMMANDS)}. "
            f"Subcommands: {', '.join(_SUBCOMMANDS)}."
        )
    allowed = _MIGRATION_OPTIONS if sub in ("plan", "start") else ()
    positional, options = _split(sub, tokens[1:], allowed)
    if sub in ("plan", "start"):
        return _migration(sub, positional, options)
    if sub == "status":
        _at_most(sub, positional, 1)
        return StatusCommand(migration_id=_migration_id(sub, positional[0]) if positional else None)
    if sub == "cancel":
        if not positional:
            raise CommandError(
                f"cancel needs a migration id, e.g. /migrate cancel {_EXAMPLE_ID} "
                "(/migrate list shows them).",
                _USAGE_LINES[sub],
            )
        _at_most(sub, positional, 1)
        return CancelCommand(migration_id=_migration_id(sub, positional[0]))
    _at_most(sub, positional, 0)
    return ListCommand()


def _tokens(text: str) -> list[str]:
    """Undo Slack's escaping, refuse control characters, split and unquote the words."""
    text = html.unescape(text).translate(_INVISIBLE)
    for ch in text:
        if ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            raise CommandError(
                f"The command contains an invisible control character (U+{ord(ch):04X}); "
                "retype it by hand."
            )
    if _looks_like_credential(text):
        raise CommandError(
            "That looks like a credential (a URL with a password, or an API token), so it was "
            "not read. If it is real, rotate it: the channel has seen it."
        )
    words = (word.strip(_QUOTES) for word in text.split())
    return [_normalise_dashes(word) for word in words if word]


def _looks_like_credential(text: str) -> bool:
    if _CREDENTIAL.search(text):
        return True
    return any(
        any(ch.isdigit() for ch in run) and any(ch.isalpha() for ch in run)
        for run in _LONG_RUN.findall(text)
    )


def _normalise_dashes(word: str) -> str:
    match = _DASH_RUN.match(word)
    if match is None or match.group() == "-":
        return word
    return "--" + word[match.end() :]


def _split(sub: str, args: list[str], allowed: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """Separate positional arguments from `--name value` / `--name=value` options."""
    usage = _USAGE_LINES[sub]
    positional: list[str] = []
    options: dict[str, str] = {}
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if not word.startswith("-"):
            positional.append(word)
            continue
        name, eq, value = word.partition("=")
        name = name.lower()
        if not name.startswith("--"):
            raise CommandError(
                f"{_shown(word)} is not an option: options take two dashes, "
                f"e.g. {_shown('-' + name)}.",
                usage,
            )
        if name not in allowed:
            raise CommandError(_unknown_option(sub, name, allowed), usage)
        if name in options:
            raise CommandError(f"{name} is given twice; give it once.", usage)
        if not eq and i < len(args) and not args[i].startswith("--"):
            value = args[i]
            i += 1
        value = value.strip(_QUOTES)
        if not value:
            raise CommandError(f"{name} needs a value: {_VALUE_HINTS[name]}", usage)
        options[name] = value
    return positional, options


def _unknown_option(sub: str, name: str, allowed: tuple[str, ...]) -> str:
    if name == "--":
        what = "A lone -- is not an option"
    else:
        what = f"{_shown(name)} is not an option of {sub}{_did_you_mean(name, allowed)}"
    if not allowed:
        return f"{what}: {sub} takes no options."
    return f"{what}. Options: {', '.join(allowed)}."


def _at_most(sub: str, positional: list[str], count: int) -> None:
    if len(positional) > count:
        takes = {0: "no arguments", 1: "one argument"}[count]
        raise CommandError(
            f"Unexpected {_shown(positional[count])}: {sub} takes {takes}.", _USAGE_LINES[sub]
        )


def _migration(sub: str, positional: list[str], options: dict[str, str]) -> PlanCommand:
    usage = _USAGE_LINES[sub]
    if not positional:
        raise CommandError(
            f"APP is missing: which Heroku app? e.g. /migrate {sub} myapp --to standard-2", usage
        )
    if len(positional) > 1:
        raise CommandError(
            f"Unexpected {_shown(positional[1])}: {sub} takes one app name; "
            "everything else is an --option.",
            usage,
        )
    app = _app_name(positional[0], "APP", usage)
    if "--to" not in options:
        raise CommandError(f"--to is missing: {_VALUE_HINTS['--to']}", usage)
    target_app = None
    if "--target-app" in options:
        target_app = _app_name(options["--target-app"], "--target-app", usage)
        if target_app == app:
            raise CommandError(
                f"--target-app is the same app as APP ({app}); leave it out to create "
                "the new database in that app.",
                usage,
            )
    model = StartCommand if sub == "start" else PlanCommand
    return model(
        app=app,
        plan=_plan(options["--to"], usage),
        source=_source(options.get("--from", "DATABASE"), usage),
        method=_method(options.get("--method", "changeover"), usage),
        target_app=target_app,
        version=_version(options["--version"], usage) if "--version" in options else None,
    )


def _app_name(value: str, what: str, usage: str) -> str:
    name = value.lower()
    if re.fullmatch(APP_NAME_PATTERN, name) is None:
        raise CommandError(
            f"{what} {_shown(value)} is not a Heroku app name: 3 to 30 lowercase letters, "
            "digits and dashes, starting with a letter and not ending with a dash.",
            usage,
        )
    return name


def _plan(value: str, usage: str) -> str:
    service, colon, slug = value.lower().partition(":")
    if not colon:
        service, slug = POSTGRES_SERVICE, service
    if service != POSTGRES_SERVICE:
        raise CommandError(
            f"Only Heroku Postgres plans can be migrated to, and {_shown(value)} is not one: "
            "e.g. --to standard-2 or --to heroku-postgresql:standard-2.",
            usage,
        )
    plan = f"{POSTGRES_SERVICE}:{slug}"
    if slug == POSTGRES_SERVICE or re.fullmatch(PLAN_PATTERN, plan) is None or len(plan) > 80:
        raise CommandError(
            f"--to {_shown(value)} is not a Heroku Postgres plan name: e.g. --to standard-2, "
            "--to premium-4, --to heroku-postgresql:private-7.",
            usage,
        )
    return plan


def _source(value: str, usage: str) -> str:
    if "://" in value:
        raise CommandError(
            "--from takes a name (e.g. DATABASE or HEROKU_POSTGRESQL_GREEN), not a URL; "
            "a database URL carries its password, so keep it out of Slack.",
            usage,
        )
    if re.fullmatch(SOURCE_PATTERN, value) is None or len(value) > 100:
        raise CommandError(
            f"--from {_shown(value)} is not a database name: give an attachment "
            "(DATABASE, HEROKU_POSTGRESQL_GREEN) or an add-on name (postgresql-curly-12345).",
            usage,
        )
    if "-" in value:
        # Only add-on names carry dashes; attachment names are upper-case config var stems.
        return value
    upper = value.upper()
    stem = upper.removesuffix("_URL")
    return stem if stem else upper


def _method(value: str, usage: str) -> str:
    method = value.lower()
    if method in SUPPORTED_METHODS:
        return method
    if method in _BY_HAND:
        raise CommandError(
            f"--method {method} is not available in this version of migrate-bot "
            f"({_BY_HAND[method]}). Available: {', '.join(SUPPORTED_METHODS)}.",
            usage,
        )
    raise CommandError(
        f"--method {_shown(value)} is not a method{_did_you_mean(method, KNOWN_METHODS)}; "
        f"available: {', '.join(SUPPORTED_METHODS)}.",
        usage,
    )


def _version(value: str, usage: str) -> str:
    version = value.lower().removeprefix("v").removeprefix("postgresql").strip()
    if re.fullmatch(VERSION_PATTERN, version) is None:
        raise CommandError(
            f"--version {_shown(value)} is not a PostgreSQL major version: e.g. --version 17.",
            usage,
        )
    return version


def _migration_id(sub: str, value: str) -> str:
    migration_id = value.lower()
    if re.fullmatch(MIGRATION_ID_PATTERN, migration_id) is None:
        raise CommandError(
            f"{_shown(value)} is not a migration id; ids look like {_EXAMPLE_ID} "
            "(/migrate list shows them).",
            _USAGE_LINES[sub],
        )
    return migration_id


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _shown(value: str) -> str:
    """User input as it may be echoed: short, no mrkdwn specials, never a credential."""
    if _UNSHOWN.search(value) or _looks_like_credential(value):
        return "(a value that looks like a URL or credential, not shown)"
    clean = "".join(ch for ch in value if ch.isprintable() and ch not in "`<>&*~|")
    if len(clean) > _ECHO_LIMIT:
        clean = clean[: _ECHO_LIMIT - 1] + "…"
    return f"`{clean}`"
