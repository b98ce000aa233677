"""The `/migrate` command grammar: what people type, and what they are told when it is wrong."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from handlers.parse import (
    APP_NAME_PATTERN,
    USAGE,
    CancelCommand,
    CommandError,
    HelpCommand,
    ListCommand,
    PlanCommand,
    StartCommand,
    StatusCommand,
    parse_command,
)

START_USAGE = (
    "/migrate start  APP --to PLAN [--from DATABASE] [--method METHOD] [--target-app APP2] "
    "[--version N]"
)


def error_for(text: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        parse_command(text)
    return caught.value


# --- the happy paths ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "Help me", "--help", "?"])
def test_empty_text_or_help_asks_for_help(text: str) -> None:
    assert parse_command(text) == HelpCommand()


def test_start_with_only_app_and_plan_defaults_to_database_and_changeover() -> None:
    assert parse_command("start myapp --to standard-2") == StartCommand(
        app="myapp",
        plan="heroku-postgresql:standard-2",
        source="DATABASE",
        method="changeover",
        target_app=None,
    )


def test_plan_takes_the_same_arguments_and_is_not_a_start() -> None:
    command = parse_command("plan myapp --to standard-2 --target-app myapp-ps")
    assert type(command) is PlanCommand
    assert command == PlanCommand(
        app="myapp", plan="heroku-postgresql:standard-2", target_app="myapp-ps"
    )


def test_start_is_a_plan_command_with_every_field_set() -> None:
    command = parse_command(
        "start myapp --to heroku-postgresql:premium-4 --from HEROKU_POSTGRESQL_GREEN "
        "--method changeover --target-app other-app"
    )
    assert isinstance(command, StartCommand)
    assert (command.app, command.plan, command.source, command.method, command.target_app) == (
        "myapp",
        "heroku-postgresql:premium-4",
        "HEROKU_POSTGRESQL_GREEN",
        "changeover",
        "other-app",
    )


@pytest.mark.parametrize(
    "text",
    [
        "start --to standard-2 myapp",
        "start myapp --to=standard-2",
        "start --to=standard-2 myapp",
        "START myapp --TO standard-2",
        "start myapp \u2014to standard-2",
        "start myapp \u2013to standard-2",
        "start myapp \u2014to=standard-2",
        "start \u201cmyapp\u201d --to \u2018standard-2\u2019",
        'start "myapp" --to="standard-2"',
        "start MyApp --to Standard-2",
        "start myapp --to heroku-postgresql:standard-2",
        "  start\tmyapp \u00a0 --to   standard-2  ",
        "start my\u200bapp --to standard-2",
        "start myapp &#45;&#45;to standard-2",
    ],
)
def test_flags_anywhere_dashes_quotes_and_case_all_read_the_same(text: str) -> None:
    assert parse_command(text) == StartCommand(app="myapp", plan="heroku-postgresql:standard-2")


@pytest.mark.parametrize(
    ("given", "source"),
    [
        ("DATABASE", "DATABASE"),
        ("database", "DATABASE"),
        ("DATABASE_URL", "DATABASE"),
        ("HEROKU_POSTGRESQL_GREEN", "HEROKU_POSTGRESQL_GREEN"),
        ("heroku_postgresql_green_url", "HEROKU_POSTGRESQL_GREEN"),
        ("HEROKU_POSTGRESQL_GREEN_URL", "HEROKU_POSTGRESQL_GREEN"),
        ("postgresql-curly-12345", "postgresql-curly-12345"),
    ],
)
def test_from_takes_an_attachment_without_url_suffix_or_an_addon_name(
    given: str, source: str
) -> None:
    command = parse_command(f"plan myapp --to standard-2 --from {given}")
    assert isinstance(command, PlanCommand)
    assert command.source == source


def test_status_without_id_means_all_active_migrations() -> None:
    assert parse_command("status") == StatusCommand(migration_id=None)


def test_migration_ids_are_accepted_in_upper_case_and_stored_lower() -> None:
    assert parse_command("Status MIG-7F3K2Q") == StatusCommand(migration_id="mig-7f3k2q")
    assert parse_command("cancel mig-7f3k2q") == CancelCommand(migration_id="mig-7f3k2q")


def test_list_takes_nothing() -> None:
    assert parse_command("list") == ListCommand()


def test_html_entities_from_slack_are_decoded_before_parsing() -> None:
    error = error_for("start myapp --to standard-2 &lt;extra&gt;")
    assert "extra" in error.message
    assert "&lt;" not in error.message


# --- what people are told ----------------------------------------------------------------


def test_missing_to_says_what_it_is_for_and_gives_an_example() -> None:
    error = error_for("start myapp")
    assert error.message == (
        "--to is missing: which plan should the new database be on? e.g. --to standard-2"
    )
    assert error.usage == START_USAGE


def test_missing_app_says_which_argument_is_missing() -> None:
    error = error_for("plan --to standard-2")
    assert error.message.startswith("APP is missing")
    assert error.usage.startswith("/migrate plan ")


@pytest.mark.parametrize(
    "text", ["start myapp --to", "start myapp --to --from DATABASE", "start myapp --to="]
)
def test_a_flag_without_value_is_refused(text: str) -> None:
    assert error_for(text).message.startswith("--to needs a value")


def test_another_service_plan_is_refused_as_not_heroku_postgres() -> None:
    error = error_for("start myapp --to heroku-redis:premium-0")
    assert "Only Heroku Postgres plans can be migrated to" in error.message


@pytest.mark.parametrize("plan", ["heroku-postgresql", "heroku-postgresql:", "standard_2", "-"])
def test_a_malformed_plan_is_refused(plan: str) -> None:
    error = error_for(f"start myapp --to {plan}")
    assert "plan" in error.message.lower()


def test_an_unsupported_method_lists_the_supported_ones() -> None:
    error = error_for("start myapp --to standard-2 --method pg-upgrade")
    assert "pg-upgrade" in error.message
    assert "changeover" in error.message


def test_target_app_equal_to_app_is_refused() -> None:
    error = error_for("start myapp --to standard-2 --target-app MYAPP")
    assert "--target-app is the same app as APP" in error.message


@pytest.mark.parametrize(
    "app", ["ab", "1app", "my_app", "myapp-", "a" * 31, "my.app", "myapp.herokuapp.com"]
)
def test_an_app_name_outside_herokus_rule_is_refused(app: str) -> None:
    assert "is not a Heroku app name" in error_for(f"start {app} --to standard-2").message


def test_the_app_name_rule_is_the_platform_schemas(contracts_dir: Path) -> None:
    schema = json.loads((contracts_dir / "heroku-platform-api.schema.json").read_text())
    assert schema["definitions"]["app"]["definitions"]["name"]["pattern"] == APP_NAME_PATTERN


def test_an_unknown_flag_is_refused_with_a_suggestion() -> None:
    error = error_for("start myapp --to standard-2 --target_app other")
    assert "(did you mean --target-app?)" in error.message


def test_a_single_dash_flag_is_refused_and_shown_with_two() -> None:
    assert "e.g. `--to`" in error_for("start myapp -to standard-2").message


def test_a_repeated_flag_is_refused_even_with_the_same_value() -> None:
    error = error_for("start myapp --to standard-2 --to=standard-2")
    assert error.message == "--to is given twice; give it once."


@pytest.mark.parametrize(
    "text",
    [
        "start myapp other --to standard-2",
        "status mig-7f3k2q mig-aaaaaa",
        "cancel mig-7f3k2q now",
        "list everything",
    ],
)
def test_extra_positional_arguments_are_refused(text: str) -> None:
    assert error_for(text).message.startswith("Unexpected `")


@pytest.mark.parametrize("text", ["list --to x", "status --all", "cancel mig-7f3k2q --force"])
def test_options_on_subcommands_without_options_are_refused(text: str) -> None:
    assert "takes no options" in error_for(text).message


def test_an_unknown_subcommand_suggests_the_closest_and_shows_all_usage() -> None:
    error = error_for("strat myapp --to standard-2")
    assert "(did you mean start?)" in error.message
    assert error.usage == USAGE


def test_options_before_the_subcommand_are_refused() -> None:
    assert error_for("--to standard-2 start myapp").message.startswith("Start with a subcommand")


def test_cancel_without_id_says_where_to_find_one() -> None:
    error = error_for("cancel")
    assert "/migrate list" in error.message
    assert error.usage == "/migrate cancel ID"


@pytest.mark.parametrize("bad_id", ["mig-123", "7f3k2q", "mig-7f3k2q9", "mig_7f3k2q"])
def test_a_malformed_migration_id_is_refused(bad_id: str) -> None:
    assert "is not a migration id" in error_for(f"cancel {bad_id}").message


def test_input_over_500_characters_is_refused_without_being_echoed() -> None:
    text = "start myapp --to standard-2 --from " + "X" * 470
    error = error_for(text)
    assert "at most 500" in error.message
    assert "XXXX" not in error.message


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\u202e", "&#x202e;"])
def test_control_characters_are_refused_and_named(char: str) -> None:
    error = error_for(f"start myapp{char} --to standard-2")
    assert "control character (U+" in error.message


def test_a_long_bad_value_is_echoed_truncated() -> None:
    error = error_for("start myapp --to standard-2 --from " + "A" * 99 + "!")
    assert "is not a database name" in error.message
    assert "A" * 39 + "…" in error.message
    assert "A" * 41 not in error.message


def test_a_database_url_without_password_in_from_asks_for_a_name() -> None:
    error = error_for("start myapp --to standard-2 --from postgres://db.internal/d8abc")
    assert "not a URL" in error.message
    assert "db.internal" not in error.message


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("start myapp --to standard-2 --from postgres://u:hunter2secret@ec2-1-2/d", "hunter2"),
        ("start xoxb-1234-5678-abcdefghijkl --to standard-2", "abcdefghijkl"),
        ("start myapp --to HRKU-AAbbCCddEEffGGhhIIjj", "AAbbCCdd"),
        ("start myapp --to standard-2 --from Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4f", "Ab3dEf6h"),
    ],
)
def test_a_pasted_credential_is_refused_never_echoed_and_flagged_for_rotation(
    text: str, secret: str
) -> None:
    error = error_for(text)
    assert "rotate it" in error.message
    for shown in (error.message, str(error), repr(error)):
        assert secret not in shown


def test_a_uuid_is_not_echoed() -> None:
    error = error_for("cancel 01234567-89ab-cdef-0123-456789abcdef")
    assert "not shown" in error.message
    assert "456789abcdef" not in error.message


def test_echoed_input_cannot_mention_the_channel() -> None:
    assert "<!channel>" not in error_for("strat&lt;!channel&gt;").message


# --- the models --------------------------------------------------------------------------


def test_commands_are_frozen() -> None:
    command = parse_command("start myapp --to standard-2")
    assert isinstance(command, StartCommand)
    with pytest.raises(ValidationError):
        command.app = "other"  # type: ignore[misc]
    assert command.app == "myapp"


def test_models_refuse_values_the_parser_would_refuse() -> None:
    with pytest.raises(ValidationError):
        PlanCommand(app="Bad_App", plan="heroku-postgresql:standard-2")
    with pytest.raises(ValidationError):
        PlanCommand(app="myapp", plan="heroku-postgresql:standard-2", target_app="myapp")
    with pytest.raises(ValidationError):
        CancelCommand(migration_id="MIG-7F3K2Q")


def test_command_error_is_a_value_error_with_message_and_usage() -> None:
    error = CommandError("what was wrong", "/migrate list")
    assert isinstance(error, ValueError)
    assert (str(error), error.message, error.usage) == (
        "what was wrong",
        "what was wrong",
        "/migrate list",
    )


# --- properties --------------------------------------------------------------------------

FRAGMENTS = [
    "start", "plan", "status", "list", "cancel", "help", "myapp", "other-app", "MIG-7F3K2Q",
    "--to", "--to=", "\u2014to", "\u2013from", "--from", "--method", "--target-app", "--",
    "-x", "=", "standard-2", "heroku-postgresql:", "heroku-redis:premium-0", "DATABASE_URL",
    "changeover", "&amp;", "&lt;", "&#0;", "\u201c", "'", '"', "\u200b", "postgres://u:p@h/d",
]  # fmt: skip

texts = st.one_of(
    st.text(max_size=600),
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=12).map(" ".join),
)


@settings(max_examples=600, deadline=None)
@given(texts)
def test_any_text_parses_to_a_command_or_raises_command_error(text: str) -> None:
    try:
        command = parse_command(text)
    except CommandError as error:
        assert error.message
        assert error.usage
        longest_echo = 61
        assert not any(
            text[i : i + longest_echo] in error.message
            for i in range(max(len(text) - longest_echo + 1, 0))
        )
    else:
        assert isinstance(
            command,
            HelpCommand | PlanCommand | StatusCommand | ListCommand | CancelCommand,
        )


app_names = st.from_regex(APP_NAME_PATTERN, fullmatch=True)
dashes = st.sampled_from(["--", "\u2014", "\u2013"])


@settings(max_examples=200, deadline=None)
@given(
    sub=st.sampled_from(["plan", "start"]),
    app=app_names,
    target=st.none() | app_names,
    slug=st.from_regex(r"[a-z][a-z0-9]{0,9}(-[a-z0-9]{1,3}){0,2}", fullmatch=True),
    prefixed=st.booleans(),
    dash=dashes,
    equals=st.booleans(),
    order=st.randoms(use_true_random=False),
)
def test_a_valid_migration_command_reads_back_whatever_the_flag_order(
    sub: str,
    app: str,
    target: str | None,
    slug: str,
    prefixed: bool,
    dash: str,
    equals: bool,
    order: random.Random,
) -> None:
    sep = "=" if equals else " "
    plan = f"heroku-postgresql:{slug}" if prefixed else slug
    words = [app, f"{dash}to{sep}{plan}"]
    if target is not None and target != app:
        words.append(f"{dash}target-app{sep}{target.upper()}")
    order.shuffle(words)
    command = parse_command(" ".join([sub, *words]))
    expected = StartCommand if sub == "start" else PlanCommand
    assert type(command) is expected
    assert command == expected(
        app=app,
        plan=f"heroku-postgresql:{slug}",
        target_app=target if target != app else None,
    )


def test_version_takes_a_postgresql_major_version() -> None:
    command = parse_command("plan myapp --to standard-2 --version 17")
    assert isinstance(command, PlanCommand) and command.version == "17"
    again = parse_command("plan myapp --to standard-2 --version v16")
    assert isinstance(again, PlanCommand) and again.version == "16"
    error = error_for("plan myapp --to standard-2 --version 17.2")
    assert "not a PostgreSQL major version" in error.message


def test_a_road_this_version_cannot_take_says_what_does_it_today() -> None:
    error = error_for("start myapp --to standard-2 --method upgrade --version 17")
    assert "not available in this version" in error.message
    assert "pg:upgrade" in error.message and "changeover" in error.message
