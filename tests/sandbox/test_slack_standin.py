"""The Slack stand-in answers like Slack, and the driver talks to a Bolt app like Slack."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import ThreadedServer
from sandbox.slack import NoSuchButtonError, SlackDriver, User, Violation, Workspace, create_app
from sandbox.slack.blockkit import check_message
from sandbox.slack.contract import NEWER_ARGS, load_contracts
from sandbox.slack.methods import METHODS

TOKEN = "xoxb-sandbox-test-token"
SECRET = "sandbox-signing-secret"
TS = re.compile(r"^\d{10}\.\d{6}$")

APPROVAL_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "ask", "text": {"type": "mrkdwn", "text": "*Approve?*"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve_step",
                "value": "mig-1",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
            },
            {
                "type": "button",
                "action_id": "reject_step",
                "value": "mig-1",
                "style": "danger",
                "text": {"type": "plain_text", "text": "Reject"},
                "confirm": {
                    "title": {"type": "plain_text", "text": "Reject?"},
                    "text": {"type": "mrkdwn", "text": "This cancels *mig-1*."},
                    "confirm": {"type": "plain_text", "text": "Reject"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                    "style": "danger",
                },
            },
        ],
    },
]


def button(text: str = "Go", action_id: str = "go", **extra: Any) -> dict[str, Any]:
    plain = {"type": "plain_text", "text": text}
    return {"type": "button", "action_id": action_id, "text": plain} | extra


def actions(*elements: dict[str, Any], block_id: str = "acts") -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    return block | ({"block_id": block_id} if block_id else {})


@pytest.fixture
def workspace() -> Workspace:
    return Workspace()


@pytest.fixture
def standin(workspace: Workspace, contracts_dir: Path) -> Iterator[ThreadedServer]:
    server = ThreadedServer(create_app(workspace, bot_token=TOKEN, contracts_dir=contracts_dir))
    with server:
        yield server


@pytest.fixture
async def client(standin: ThreadedServer) -> AsyncIterator[AsyncWebClient]:
    yield AsyncWebClient(token=TOKEN, base_url=f"{standin.url}/api/")


def build_bot(api_url: str, seen: list[dict[str, Any]]) -> AsyncApp:
    """A tiny Bolt app: /migrate posts an approval; approve_step updates it and responds."""
    app = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=api_url),
        signing_secret=SECRET,
        # Listeners finish before the HTTP answer, so the tests need not poll.
        process_before_response=True,
    )

    @app.command("/migrate")
    async def migrate(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack(f"Planning {command['text']}")
        await client.chat_postMessage(
            channel=command["channel_id"], text="Approve mig-1?", blocks=APPROVAL_BLOCKS
        )

    @app.action("approve_step")
    async def approve(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        seen.append(body)
        await client.chat_update(
            channel=body["channel"]["id"],
            ts=body["container"]["message_ts"],
            text=f"Approved by <@{body['user']['id']}>",
            blocks=[section(f"Approved by <@{body['user']['id']}>", "decided")],
        )
        await respond(
            text=f"You approved {body['actions'][0]['value']}",
            response_type="ephemeral",
            replace_original=False,
        )

    @app.action("reject_step")
    async def reject(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        seen.append(body)
        await respond(text="Rejected", replace_original=True)

    return app


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def bot(standin: ThreadedServer, seen: list[dict[str, Any]]) -> Iterator[ThreadedServer]:
    app = build_bot(f"{standin.url}/api/", seen)
    with ThreadedServer(app.web_app(path="/slack/events")) as server:
        yield server


@pytest.fixture
def driver(bot: ThreadedServer, standin: ThreadedServer, workspace: Workspace) -> SlackDriver:
    return SlackDriver(f"{bot.url}/slack/events", SECRET, standin.url, workspace)


async def post_approval(driver: SlackDriver, workspace: Workspace) -> str:
    response = await driver.slash("U0ALICE", "start shop --to standard-2")
    assert response.status == 200
    (message,) = workspace.messages("C0OPS")
    return message.ts


# --- the driver against a Bolt app -------------------------------------------------------


async def test_a_signed_slash_command_is_accepted_and_its_ack_shown_only_to_the_typist(
    driver: SlackDriver, workspace: Workspace
) -> None:
    response = await driver.slash("U0ALICE", "plan shop --to standard-2")

    assert response.status == 200
    assert response.message == {"text": "Planning plan shop --to standard-2"}
    (shown,) = workspace.ephemerals("U0ALICE")
    assert (shown.text, shown.source, shown.channel) == (
        "Planning plan shop --to standard-2",
        "ack",
        "C0OPS",
    )
    assert workspace.ephemerals("U0BOB") == []


async def test_a_slash_command_signed_with_the_wrong_secret_gets_401_and_does_nothing(
    bot: ThreadedServer, standin: ThreadedServer, workspace: Workspace
) -> None:
    forger = SlackDriver(f"{bot.url}/slack/events", "not-the-secret", standin.url, workspace)

    response = await forger.slash("U0ALICE", "start shop --to standard-2")

    assert response.status == 401
    assert workspace.messages() == []
    assert workspace.calls == []


async def test_a_correctly_signed_but_five_minute_old_request_gets_401(
    driver: SlackDriver, workspace: Workspace
) -> None:
    body = b"command=%2Fmigrate&text=help&user_id=U0ALICE&channel_id=C0OPS"
    stale = driver.sign(body, timestamp=int(time.time()) - 301)

    response = await driver.send_raw(
        body, {"Content-Type": "application/x-www-form-urlencoded", **stale}
    )

    assert response.status == 401
    assert workspace.messages() == []


async def test_the_posted_message_is_stored_with_its_blocks_and_no_violation(
    driver: SlackDriver, workspace: Workspace
) -> None:
    ts = await post_approval(driver, workspace)

    (message,) = workspace.messages("C0OPS")
    assert TS.match(ts)
    assert message.blocks == APPROVAL_BLOCKS
    assert (message.user, message.bot_id) == ("U0MIGRATEBOT", "B0MIGRATEBOT")
    assert workspace.calls == ["auth.test", "chat.postMessage"]
    assert workspace.violations == []


async def test_a_click_reaches_the_app_with_the_clicker_the_value_and_the_message_ts(
    driver: SlackDriver, workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    ts = await post_approval(driver, workspace)

    response = await driver.click("U0BOB", "C0OPS", ts, "approve_step")

    assert response.status == 200
    (body,) = seen
    assert body["type"] == "block_actions"
    assert body["user"]["id"] == "U0BOB"
    assert body["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": "C0OPS",
        "is_ephemeral": False,
    }
    assert body["message"]["blocks"] == APPROVAL_BLOCKS
    (action,) = body["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["style"]) == (
        "approve_step",
        "decide",
        "mig-1",
        "primary",
    )


async def test_chat_update_replaces_the_message_in_place_and_keeps_the_edit_history(
    driver: SlackDriver, workspace: Workspace
) -> None:
    ts = await post_approval(driver, workspace)

    await driver.click("U0BOB", "C0OPS", ts, "approve_step")

    (message,) = workspace.messages("C0OPS")
    assert message.ts == ts
    assert message.text == "Approved by <@U0BOB>"
    assert [b["type"] for b in message.blocks] == ["section"]
    (before,) = message.edits
    assert (before.text, before.blocks) == ("Approve mig-1?", APPROVAL_BLOCKS)
    assert message.to_api()["edited"]["ts"] == before.replaced_at
    assert workspace.violations == []


async def test_respond_through_the_response_url_shows_an_ephemeral_to_the_clicker_only(
    driver: SlackDriver, workspace: Workspace
) -> None:
    ts = await post_approval(driver, workspace)

    await driver.click("U0BOB", "C0OPS", ts, "approve_step")

    (shown,) = workspace.ephemerals("U0BOB")
    assert (shown.text, shown.source) == ("You approved mig-1", "response_url")
    assert [e.source for e in workspace.ephemerals("U0ALICE")] == ["ack"]


async def test_a_button_that_is_not_on_the_message_cannot_be_clicked(
    driver: SlackDriver, workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    ts = await post_approval(driver, workspace)
    await driver.click("U0BOB", "C0OPS", ts, "approve_step")

    with pytest.raises(NoSuchButtonError):
        await driver.click("U0BOB", "C0OPS", ts, "approve_step")
    with pytest.raises(NoSuchButtonError):
        await driver.click("U0BOB", "C0OPS", "1700000000.000001", "approve_step")
    assert len(seen) == 1


async def test_when_buttons_share_an_action_id_the_value_picks_one(
    driver: SlackDriver, workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    blocks = [
        actions(button(action_id="approve_step", value="mig-1"), block_id="one"),
        actions(button(action_id="approve_step", value="mig-2"), block_id="two"),
    ]
    ts = workspace.post_message("C0OPS", text="two approvals", blocks=blocks).ts

    with pytest.raises(NoSuchButtonError, match="pass value"):
        await driver.click("U0BOB", "C0OPS", ts, "approve_step")
    await driver.click("U0BOB", "C0OPS", ts, "approve_step", value="mig-2")

    assert [(b["actions"][0]["block_id"], b["actions"][0]["value"]) for b in seen] == [
        ("two", "mig-2")
    ]


async def test_a_button_on_an_ephemeral_message_is_clickable_by_its_viewer_only(
    driver: SlackDriver, workspace: Workspace, seen: list[dict[str, Any]]
) -> None:
    shown = workspace.post_ephemeral(
        "C0OPS", "U0ALICE", text="sure?", blocks=APPROVAL_BLOCKS, source="chat.postEphemeral"
    )

    with pytest.raises(NoSuchButtonError):
        await driver.click("U0BOB", "C0OPS", shown.ts, "reject_step")
    await driver.click("U0ALICE", "C0OPS", shown.ts, "reject_step")

    (body,) = seen
    assert body["container"]["is_ephemeral"] is True
    assert "message" not in body
    assert [(e.ts, e.text, e.blocks) for e in workspace.ephemerals("U0ALICE")] == [
        (shown.ts, "Rejected", [])
    ]


async def test_the_driver_does_not_reveal_the_signing_secret(driver: SlackDriver) -> None:
    assert SECRET not in repr(driver)
    assert SECRET not in str(driver)


# --- Web API methods ---------------------------------------------------------------------


async def test_post_message_answers_a_string_ts_the_channel_and_the_message(
    client: AsyncWebClient,
) -> None:
    first = await client.chat_postMessage(channel="C0OPS", text="one")
    second = await client.chat_postMessage(channel="C0OPS", text="two")

    assert isinstance(first["ts"], str)
    assert TS.match(first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert first["channel"] == "C0OPS"
    assert first["message"]["text"] == "one"
    assert first["message"]["bot_id"] == "B0MIGRATEBOT"


@pytest.mark.parametrize("prefix", ["/api/", "/"])
async def test_methods_answer_with_and_without_the_api_prefix(
    standin: ThreadedServer, prefix: str
) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=standin.url + prefix)

    identity = await client.auth_test()

    assert (identity["team_id"], identity["user_id"], identity["bot_id"]) == (
        "T0SANDBOX",
        "U0MIGRATEBOT",
        "B0MIGRATEBOT",
    )


async def test_a_wrong_token_is_invalid_auth_and_a_missing_one_is_not_authed(
    standin: ThreadedServer,
) -> None:
    async with httpx.AsyncClient(base_url=standin.url) as http:
        wrong = await http.post("/api/auth.test", headers={"Authorization": "Bearer xoxb-nope"})
        missing = await http.post("/api/auth.test")
        in_json = await http.post(
            "/api/chat.postMessage", json={"token": TOKEN, "channel": "C0OPS"}
        )

    assert (wrong.status_code, wrong.json()) == (200, {"ok": False, "error": "invalid_auth"})
    assert (missing.status_code, missing.json()) == (200, {"ok": False, "error": "not_authed"})
    assert in_json.json()["error"] == "not_authed"
    assert TOKEN not in wrong.text + missing.text + in_json.text


async def test_form_bodies_and_query_strings_are_read_like_json_bodies(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    async with httpx.AsyncClient(base_url=standin.url) as http:
        posted = await http.post(
            "/api/chat.postMessage",
            data={"token": TOKEN, "channel": "C0OPS", "text": "hi", "blocks": json.dumps([])},
        )
        info = await http.get("/api/users.info", params={"token": TOKEN, "user": "U0BOB"})

    assert posted.json()["ok"] is True
    assert workspace.messages("C0OPS")[0].text == "hi"
    assert info.json()["user"]["name"] == "bob"
    assert workspace.violations == []


@pytest.mark.parametrize(
    ("blocks", "why"),
    [
        ([actions(button("x" * 76))], "cannot exceed 75 characters"),
        ([section(f"block {i}") for i in range(51)], "no more than 50 items"),
        ([section("a", "same"), section("b", "same")], "block_id 'same' is repeated"),
        ([actions(button(), button())], "action_id 'go' is repeated"),
        ([actions(button(value="v" * 2001))], "value attribute cannot exceed 2000"),
        ([section("a") | {"colour": "red"}], "unsupported property 'colour'"),
        ([{"type": "section", "text": "bare string"}], "expected an object"),
        ([actions(button(style="green"))], "style attribute must be one of"),
        (
            [
                actions(
                    button(
                        confirm={
                            "title": {"type": "plain_text", "text": "t" * 101},
                            "text": {"type": "plain_text", "text": "sure?"},
                            "confirm": {"type": "plain_text", "text": "Yes"},
                            "deny": {"type": "plain_text", "text": "No"},
                        }
                    )
                )
            ],
            "title attribute cannot exceed 100",
        ),
        (
            [actions(button(confirm={"title": {"type": "plain_text", "text": "t"}}))],
            "confirm needs 'deny'",
        ),
        ([{"type": "actions", "elements": []}], "elements must not be empty"),
        ([{"type": "bogus"}], "unsupported block type"),
    ],
)
async def test_invalid_blocks_are_refused_with_invalid_blocks_and_recorded(
    client: AsyncWebClient, workspace: Workspace, blocks: list[dict[str, Any]], why: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0OPS", text="fallback", blocks=blocks)

    answer = refused.value.response
    assert answer["error"] == "invalid_blocks"
    assert any(why in error for error in answer["errors"]), answer["errors"]
    assert workspace.messages() == []
    assert [v.method for v in workspace.violations] == ["chat.postMessage"]
    assert why in workspace.violations[0].detail


async def test_a_message_using_every_block_the_bot_needs_is_accepted_unchanged(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "mig-7f3k2q", "emoji": True}},
        {
            "type": "section",
            "block_id": "facts",
            "fields": [{"type": "mrkdwn", "text": "*App*\nshop"}],
            "accessory": button("Details", "details", value="mig-7f3k2q"),
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "requested by <@U0ALICE>"}]},
        *APPROVAL_BLOCKS,
    ]

    answer = await client.chat_postMessage(channel="C0OPS", text="mig-7f3k2q", blocks=blocks)

    stored = answer["message"]["blocks"]
    assert [b.get("block_id") for b in stored[2:4]] != [None, None]  # Slack fills block_ids in
    assert stored[1] == blocks[1]
    assert stored[4:] == APPROVAL_BLOCKS
    assert workspace.violations == []


async def test_blocks_without_a_top_level_text_are_posted_but_recorded(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    with pytest.warns(UserWarning, match="top-level `text`"):
        answer = await client.chat_postMessage(channel="C0OPS", blocks=[section("hi")])

    assert answer["ok"] is True
    assert [v.method for v in workspace.violations] == ["chat.postMessage"]
    assert "top-level text" in workspace.violations[0].detail


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": ""}, "no_text"),
        ({}, "no_text"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_text_limits_are_enforced(
    client: AsyncWebClient, workspace: Workspace, kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0OPS", **kwargs)

    assert refused.value.response["error"] == error
    assert workspace.violations != []


async def test_unknown_and_missing_arguments_are_recorded_as_violations(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    await client.chat_postMessage(channel="C0OPS", text="hi", colour="red")
    with pytest.raises(SlackApiError) as refused:
        await client.api_call("chat.update", json={"channel": "C0OPS", "text": "no ts"})

    assert refused.value.response["error"] == "invalid_arguments"
    details = [v.detail for v in workspace.violations]
    assert "unknown argument 'colour'" in details
    assert "missing required argument 'ts'" in details


async def test_a_numeric_ts_is_refused_because_slack_ts_are_strings(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    ts = (await client.chat_postMessage(channel="C0OPS", text="hi"))["ts"]

    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel="C0OPS", ts=float(ts), text="edited")  # type: ignore[arg-type]

    assert refused.value.response["error"] == "invalid_arguments"
    assert workspace.messages()[0].text == "hi"


async def test_a_json_body_sent_to_a_read_only_method_is_ignored_and_recorded(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.api_call("users.info", json={"user": "U0BOB"})

    assert refused.value.response["error"] == "user_not_found"
    assert any("JSON body" in v.detail for v in workspace.violations)


async def test_chat_update_refuses_messages_the_bot_did_not_post_or_that_do_not_exist(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    human = workspace.post_message("C0OPS", text="mine", user="U0ALICE")

    with pytest.raises(SlackApiError) as not_ours:
        await client.chat_update(channel="C0OPS", ts=human.ts, text="edited")
    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel="C0OPS", ts="1700000000.000001", text="edited")

    assert not_ours.value.response["error"] == "cant_update_message"
    assert missing.value.response["error"] == "message_not_found"
    assert workspace.messages()[0].text == "mine"


async def test_chat_update_without_blocks_keeps_the_blocks(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    ts = (await client.chat_postMessage(channel="C0OPS", text="a", blocks=APPROVAL_BLOCKS))["ts"]

    answer = await client.chat_update(channel="C0OPS", ts=ts, text="b")

    assert answer["ts"] == ts
    assert answer["text"] == "b"
    assert workspace.messages()[0].blocks == APPROVAL_BLOCKS


async def test_post_ephemeral_is_seen_only_by_its_user_and_needs_a_known_user(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    answer = await client.chat_postEphemeral(channel="C0OPS", user="U0ALICE", text="psst")
    with pytest.raises(SlackApiError) as stranger:
        await client.chat_postEphemeral(channel="C0OPS", user="U0NOBODY", text="psst")

    assert TS.match(answer["message_ts"])
    assert [e.text for e in workspace.ephemerals("U0ALICE")] == ["psst"]
    assert workspace.ephemerals("U0BOB") == []
    assert workspace.messages() == []
    assert stranger.value.response["error"] == "user_not_in_channel"


async def test_ephemeral_messages_cannot_be_updated_with_chat_update(
    client: AsyncWebClient,
) -> None:
    ts = (await client.chat_postEphemeral(channel="C0OPS", user="U0ALICE", text="a"))["message_ts"]

    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel="C0OPS", ts=ts, text="b")

    assert refused.value.response["error"] == "message_not_found"


async def test_replies_land_in_the_parents_thread_and_a_reply_to_a_reply_is_recorded(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    parent = (await client.chat_postMessage(channel="C0OPS", text="parent"))["ts"]
    reply = (await client.chat_postMessage(channel="C0OPS", text="r1", thread_ts=parent))["ts"]
    await client.chat_postMessage(channel="C0OPS", text="r2", thread_ts=reply)

    assert [m.text for m in workspace.thread("C0OPS", parent)] == ["parent", "r1", "r2"]
    assert workspace.message_view(workspace.messages()[0])["reply_count"] == 2
    assert [v.method for v in workspace.violations] == ["chat.postMessage"]


async def test_usergroups_users_list_lists_members_and_knows_missing_groups(
    client: AsyncWebClient,
) -> None:
    members = await client.usergroups_users_list(usergroup="S0APPROVERS")
    with pytest.raises(SlackApiError) as unknown:
        await client.usergroups_users_list(usergroup="S0NOPE")

    assert members["users"] == ["U0BOB"]
    assert unknown.value.response["error"] == "no_such_subteam"


async def test_on_a_free_plan_usergroups_answer_plan_upgrade_required(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.usergroups_enabled = False

    with pytest.raises(SlackApiError) as refused:
        await client.usergroups_users_list(usergroup="S0APPROVERS")

    assert refused.value.response["error"] == "plan_upgrade_required"


async def test_users_info_returns_the_user_object_or_user_not_found(
    client: AsyncWebClient,
) -> None:
    alice = (await client.users_info(user="U0ALICE"))["user"]
    with pytest.raises(SlackApiError) as unknown:
        await client.users_info(user="U0NOBODY")

    assert {k: alice[k] for k in ("id", "name", "is_admin", "is_bot", "deleted")} == {
        "id": "U0ALICE",
        "name": "alice",
        "is_admin": False,
        "is_bot": False,
        "deleted": False,
    }
    assert alice["profile"]["display_name"] == "alice"
    assert {"real_name", "tz"} <= set(alice)
    assert unknown.value.response["error"] == "user_not_found"


async def test_conversations_info_and_permalinks_describe_the_channel(
    client: AsyncWebClient,
) -> None:
    channel = (await client.conversations_info(channel="C0OPS"))["channel"]
    ts = (await client.chat_postMessage(channel="#ops", text="by name"))["ts"]
    link = await client.chat_getPermalink(channel="C0OPS", message_ts=ts)

    assert (channel["id"], channel["name"]) == ("C0OPS", "ops")
    assert link["permalink"].endswith(f"/archives/C0OPS/p{ts.replace('.', '')}")


async def test_unknown_channel_ids_are_created_unless_channels_are_strict(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    await client.chat_postMessage(channel="C0NEW", text="hello")
    workspace.strict_channels = True

    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0OTHER", text="hello")

    assert [m.channel for m in workspace.messages()] == ["C0NEW"]
    assert refused.value.response["error"] == "channel_not_found"


# --- faults and control routes -----------------------------------------------------------


async def test_a_ratelimited_fault_answers_429_with_retry_after_then_recovers(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=standin.url, headers=auth) as http:
        injected = await http.post(
            "/_standin/faults",
            json={"method": "chat.postMessage", "error": "ratelimited", "retry_after": 7},
        )
        limited = await http.post("/api/chat.postMessage", json={"channel": "C0OPS", "text": "a"})
        allowed = await http.post("/api/chat.postMessage", json={"channel": "C0OPS", "text": "b"})
        calls = await http.get("/_standin/calls")

    assert injected.json() == {"ok": True}
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.json() == {"ok": False, "error": "ratelimited"}
    assert allowed.json()["ok"] is True
    assert [m.text for m in workspace.messages()] == ["b"]
    assert calls.json()["calls"] == ["chat.postMessage", "chat.postMessage"]


async def test_the_sdk_rate_limit_handler_retries_through_an_injected_429(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    workspace.add_fault("chat.postMessage", "ratelimited", retry_after=0)

    answer = await client.chat_postMessage(channel="C0OPS", text="eventually")

    assert answer["ok"] is True
    assert workspace.calls == ["chat.postMessage", "chat.postMessage"]


@pytest.mark.parametrize(("error", "status"), [("5xx", 500), ("503", 503)])
async def test_a_server_error_fault_answers_that_status(
    client: AsyncWebClient, workspace: Workspace, error: str, status: int
) -> None:
    workspace.add_fault("users.info", error)

    with pytest.raises(SlackApiError) as failed:
        await client.users_info(user="U0BOB")

    assert failed.value.response.status_code == status


async def test_a_down_fault_drops_the_connection(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    workspace.add_fault("*", "down")

    async with httpx.AsyncClient(base_url=standin.url) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/api/auth.test", headers={"Authorization": f"Bearer {TOKEN}"})
        after = await http.post("/api/auth.test", headers={"Authorization": f"Bearer {TOKEN}"})

    assert after.json()["ok"] is True


async def test_control_routes_show_messages_ephemerals_and_violations(
    client: AsyncWebClient, standin: ThreadedServer
) -> None:
    ts = (await client.chat_postMessage(channel="C0OPS", text="a", blocks=APPROVAL_BLOCKS))["ts"]
    await client.chat_update(channel="C0OPS", ts=ts, text="b", blocks=[])
    await client.chat_postEphemeral(channel="C0OPS", user="U0BOB", text="psst")
    await client.chat_postMessage(channel="C0OPS", text="hi", colour="red")

    async with httpx.AsyncClient(base_url=standin.url) as http:
        messages = (await http.get("/_standin/messages", params={"channel": "C0OPS"})).json()
        ephemeral = (await http.get("/_standin/ephemeral", params={"user": "U0BOB"})).json()
        violations = (await http.get("/_standin/violations")).json()

    first = messages["messages"][0]
    assert (first["ts"], first["text"], first["channel"]) == (ts, "b", "C0OPS")
    assert first["edits"][0]["blocks"] == APPROVAL_BLOCKS
    assert [e["text"] for e in ephemeral["messages"]] == ["psst"]
    assert violations["violations"] == [
        {"method": "chat.postMessage", "detail": "unknown argument 'colour'"}
    ]


# --- response_url ------------------------------------------------------------------------


async def test_a_response_url_works_five_times_then_answers_used_url(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    token = workspace.issue_response_url("C0OPS", "U0ALICE")

    async with httpx.AsyncClient(base_url=standin.url) as http:
        answers = [
            await http.post(
                f"/_responses/{token}", json={"text": f"n{i}", "response_type": "ephemeral"}
            )
            for i in range(6)
        ]

    assert [(a.status_code, a.text) for a in answers[:5]] == [(200, "ok")] * 5
    assert (answers[5].status_code, answers[5].text) == (404, "used_url")
    assert len(workspace.ephemerals("U0ALICE")) == 5


async def test_a_response_url_expires_after_thirty_minutes(contracts_dir: Path) -> None:
    now = [1_700_000_000.0]
    workspace = Workspace(clock=lambda: now[0])
    token = workspace.issue_response_url("C0OPS", "U0ALICE")
    now[0] += 30 * 60 + 1

    with ThreadedServer(create_app(workspace, bot_token=TOKEN, contracts_dir=contracts_dir)) as s:
        async with httpx.AsyncClient(base_url=s.url) as http:
            answer = await http.post(f"/_responses/{token}", json={"text": "late"})

    assert (answer.status_code, answer.text) == (404, "expired_url")
    assert workspace.ephemerals() == []


async def test_replace_original_through_a_click_response_url_edits_the_message_in_place(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    original = workspace.post_message("C0OPS", text="pick", blocks=APPROVAL_BLOCKS)
    token = workspace.issue_response_url("C0OPS", "U0BOB", origin_ts=original.ts)

    async with httpx.AsyncClient(base_url=standin.url) as http:
        replaced = await http.post(
            f"/_responses/{token}", json={"text": "decided", "replace_original": True}
        )
        in_channel = await http.post(
            f"/_responses/{token}", json={"text": "for all", "response_type": "in_channel"}
        )
        deleted = await http.post(f"/_responses/{token}", json={"delete_original": True})

    assert [replaced.text, in_channel.text, deleted.text] == ["ok", "ok", "ok"]
    assert [m.text for m in workspace.messages()] == ["for all"]
    assert original.edits[0].text == "pick"
    assert original.text == "decided"


async def test_invalid_blocks_through_a_response_url_are_refused_and_recorded(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    token = workspace.issue_response_url("C0OPS", "U0ALICE")

    async with httpx.AsyncClient(base_url=standin.url) as http:
        answer = await http.post(
            f"/_responses/{token}", json={"text": "x", "blocks": [actions(button("x" * 80))]}
        )

    assert (answer.status_code, answer.text) == (400, "invalid_blocks")
    assert workspace.ephemerals() == []
    assert [v.method for v in workspace.violations] == ["response_url"]


# --- channels: kinds, membership, archives ------------------------------------------------


async def refusal(pending: Awaitable[Any]) -> dict[str, Any]:
    """The body of the Slack error a call ends in."""
    with pytest.raises(SlackApiError) as refused:
        await pending
    return dict(refused.value.response.data)


Calls = dict[str, Callable[[], Awaitable[Any]]]


def post_calls(client: AsyncWebClient, channel: str, ts: str) -> Calls:
    """One call of each posting method, aimed at `channel`."""
    return {
        "chat.postMessage": lambda: client.chat_postMessage(channel=channel, text="hi"),
        "chat.update": lambda: client.chat_update(channel=channel, ts=ts, text="edited"),
        "chat.postEphemeral": lambda: client.chat_postEphemeral(
            channel=channel, user="U0ALICE", text="psst"
        ),
    }


def test_the_workspace_grants_the_manifest_scopes_and_ops_is_public_with_the_bot_in_it() -> None:
    ws = Workspace()

    assert ws.scopes == {
        "commands",
        "chat:write",
        "chat:write.public",
        "channels:join",
        "channels:read",
        "groups:read",
        "usergroups:read",
        "users:read",
        "users:read.email",
    }
    ops = ws.channels["C0OPS"]
    assert (ops.is_private, ops.is_archived, ops.bot_member) == (False, False, True)


async def test_the_bot_posts_in_a_public_channel_it_is_not_in_thanks_to_chat_write_public(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    ts = workspace.post_message("C0OPS", text="old").ts
    workspace.remove_bot("C0OPS")

    for method, call in post_calls(client, "C0OPS", ts).items():
        assert (await call())["ok"] is True, method

    assert [m.text for m in workspace.messages("C0OPS")] == ["edited", "hi"]


async def test_without_chat_write_public_a_channel_the_bot_is_not_in_is_not_in_channel(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    ts = workspace.post_message("C0OPS", text="old").ts
    workspace.remove_bot("C0OPS")
    workspace.scopes.discard("chat:write.public")

    for method, call in post_calls(client, "C0OPS", ts).items():
        assert (await refusal(call()))["error"] == "not_in_channel", method

    assert [m.text for m in workspace.messages()] == ["old"]
    assert workspace.ephemerals() == []
    assert workspace.violations == []


async def test_a_private_channel_the_bot_is_not_in_is_channel_not_found_to_every_method(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.add_channel("C0SECRET", "secret", private=True, bot_member=False)
    ts = workspace.post_message("C0SECRET", text="old", user="U0ALICE").ts
    calls: Calls = post_calls(client, "C0SECRET", ts) | {
        "conversations.info": lambda: client.conversations_info(channel="C0SECRET"),
        "chat.getPermalink": lambda: client.chat_getPermalink(channel="C0SECRET", message_ts=ts),
        "by name": lambda: client.chat_postMessage(channel="#secret", text="hi"),
    }

    for method, call in calls.items():
        assert (await refusal(call()))["error"] == "channel_not_found", method

    assert [m.text for m in workspace.messages()] == ["old"]


async def test_a_private_channel_the_bot_was_invited_to_takes_its_posts(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.add_channel("C0SECRET", "secret", private=True, bot_member=False)
    workspace.add_bot("C0SECRET")

    answer = await client.chat_postMessage(channel="C0SECRET", text="hi")
    info = (await client.conversations_info(channel="C0SECRET"))["channel"]

    assert answer["channel"] == "C0SECRET"
    assert (info["is_private"], info["is_member"]) == (True, True)


async def test_an_archived_channel_is_is_archived_to_posts_but_still_described(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    ts = workspace.post_message("C0OPS", text="old").ts
    workspace.archive_channel("C0OPS")

    for method, call in post_calls(client, "C0OPS", ts).items():
        assert (await refusal(call()))["error"] == "is_archived", method
    info = (await client.conversations_info(channel="C0OPS"))["channel"]

    assert (info["is_archived"], info["is_member"]) == (True, True)
    assert [m.text for m in workspace.messages()] == ["old"]


async def test_conversations_info_reports_privacy_archive_and_membership(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.add_channel("C0PUBLIC", "lobby", bot_member=False)
    workspace.add_channel("C0PRIVATE", "secret", private=True)
    workspace.add_channel("G0LEGACY", "old-secret", private=True)
    fields = ("is_channel", "is_group", "is_private", "is_archived", "is_member")

    seen = {}
    for channel in ("C0OPS", "C0PUBLIC", "C0PRIVATE", "G0LEGACY"):
        info = (await client.conversations_info(channel=channel))["channel"]
        seen[channel] = tuple(info[f] for f in fields)

    assert seen == {
        "C0OPS": (True, False, False, False, True),
        "C0PUBLIC": (True, False, False, False, False),
        "C0PRIVATE": (True, False, True, False, True),
        "G0LEGACY": (False, True, True, False, True),
    }


async def test_conversations_info_needs_channels_read_or_groups_read_by_kind(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.add_channel("C0PRIVATE", "secret", private=True)
    workspace.scopes -= {"channels:read", "groups:read"}

    public = await refusal(client.conversations_info(channel="C0OPS"))
    private = await refusal(client.conversations_info(channel="C0PRIVATE"))

    assert (public["error"], public["needed"]) == ("missing_scope", "channels:read")
    assert (private["error"], private["needed"]) == ("missing_scope", "groups:read")


async def test_conversations_info_answers_include_num_members_and_include_locale(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    channel = (
        await client.conversations_info(
            channel="C0OPS", include_num_members=True, include_locale=True
        )
    )["channel"]
    plain = (await client.conversations_info(channel="C0OPS"))["channel"]

    assert (channel["num_members"], channel["locale"]) == (3, "en-US")
    assert "num_members" not in plain and "locale" not in plain
    assert workspace.violations == []


async def test_conversations_join_makes_the_bot_a_member_of_a_public_channel(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.remove_bot("C0OPS")
    workspace.scopes.discard("chat:write.public")

    joined = await client.conversations_join(channel="C0OPS")
    posted = await client.chat_postMessage(channel="C0OPS", text="here now")

    assert joined["ok"] is True
    assert (joined["channel"]["id"], joined["channel"]["is_member"]) == ("C0OPS", True)
    assert "warning" not in joined.data
    assert workspace.channels["C0OPS"].bot_member is True
    assert posted["ok"] is True
    assert workspace.calls == ["conversations.join", "chat.postMessage"]
    assert workspace.violations == []


async def test_conversations_join_in_a_channel_the_bot_is_in_warns_already_in_channel(
    client: AsyncWebClient,
) -> None:
    joined = await client.conversations_join(channel="C0OPS")

    assert joined["ok"] is True
    assert joined["warning"] == "already_in_channel"
    assert joined["response_metadata"] == {"warnings": ["already_in_channel"]}
    assert joined["channel"]["is_member"] is True


async def test_warnings_of_a_join_and_a_charset_less_json_body_are_listed_together(
    standin: ThreadedServer,
) -> None:
    async with httpx.AsyncClient(base_url=standin.url) as http:
        answer = await http.post(
            "/api/conversations.join",
            json={"channel": "C0OPS"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

    body = answer.json()
    assert body["warning"] == "already_in_channel,missing_charset"
    assert body["response_metadata"]["warnings"] == ["already_in_channel", "missing_charset"]


@pytest.mark.parametrize(
    ("kind", "error"),
    [("private", "method_not_supported_for_channel_type"), ("archived", "is_archived")],
)
async def test_conversations_join_refuses_private_and_archived_channels(
    client: AsyncWebClient, workspace: Workspace, kind: str, error: str
) -> None:
    workspace.add_channel("C0OTHER", "other", private=kind == "private", bot_member=False)
    if kind == "archived":
        workspace.archive_channel("C0OTHER")

    answer = await refusal(client.conversations_join(channel="C0OTHER"))

    assert answer["error"] == error
    assert workspace.channels["C0OTHER"].bot_member is False


@pytest.mark.parametrize(
    ("method", "scope", "kwargs"),
    [
        ("conversations_join", "channels:join", {"channel": "C0OPS"}),
        ("chat_postMessage", "chat:write", {"channel": "C0OPS", "text": "hi"}),
        ("chat_postEphemeral", "chat:write", {"channel": "C0OPS", "user": "U0BOB", "text": "hi"}),
        ("users_info", "users:read", {"user": "U0BOB"}),
        ("usergroups_users_list", "usergroups:read", {"usergroup": "S0APPROVERS"}),
    ],
)
async def test_a_method_without_its_scope_is_missing_scope_naming_needed_and_provided(
    client: AsyncWebClient, workspace: Workspace, method: str, scope: str, kwargs: dict[str, Any]
) -> None:
    workspace.scopes.discard(scope)

    answer = await refusal(getattr(client, method)(**kwargs))

    assert answer["error"] == "missing_scope"
    assert answer["needed"] == scope
    assert answer["provided"].split(",") == sorted(workspace.scopes)
    assert workspace.messages() == []


# --- users: emails and locale ------------------------------------------------------------


async def test_users_info_shows_the_email_only_with_users_read_email(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    with_scope = (await client.users_info(user="U0ALICE"))["user"]
    bot = (await client.users_info(user="U0MIGRATEBOT"))["user"]
    workspace.scopes.discard("users:read.email")
    without = (await client.users_info(user="U0ALICE"))["user"]

    assert with_scope["profile"]["email"] == "alice@example.com"
    assert "email" not in bot["profile"]
    assert "email" not in without["profile"]
    assert without["profile"]["display_name"] == "alice"


async def test_users_info_accepts_include_locale_as_the_spec_does_and_adds_the_locale(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    with_locale = (await client.users_info(user="U0BOB", include_locale=True))["user"]
    without = (await client.users_info(user="U0BOB"))["user"]

    assert with_locale["locale"] == "en-US"
    assert "locale" not in without
    assert workspace.violations == []


async def test_an_added_user_has_the_email_it_was_given(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.add_user(User("U0CAROL", "carol", "Carol Engineer", email="carol@example.com"))
    workspace.set_email("U0BOB", "robert@example.com")

    carol = (await client.users_info(user="U0CAROL"))["user"]
    bob = (await client.users_info(user="U0BOB"))["user"]

    assert carol["profile"]["email"] == "carol@example.com"
    assert bob["profile"]["email"] == "robert@example.com"


# --- contracts ---------------------------------------------------------------------------


def test_every_stand_in_method_has_a_contract_from_the_spec(contracts_dir: Path) -> None:
    contracts = load_contracts(contracts_dir)

    assert set(METHODS) <= set(contracts)
    assert set(NEWER_ARGS) == set(METHODS)
    assert "channel" in contracts["conversations.join"].known
    assert "include_locale" in contracts["users.info"].known


async def test_conversations_join_arguments_are_checked_against_the_spec(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    await client.conversations_join(channel="C0OPS", colour="red")

    assert workspace.violations == [Violation("conversations.join", "unknown argument 'colour'")]


# --- permanent errors through faults ------------------------------------------------------

PERMANENT_ERRORS = [
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "missing_scope",
    "msg_too_long",
    "invalid_blocks",
    "no_text",
    "restricted_action",
]


@pytest.mark.parametrize("error", PERMANENT_ERRORS)
async def test_a_fault_answers_any_slack_error_code_with_http_200_then_recovers(
    client: AsyncWebClient, workspace: Workspace, error: str
) -> None:
    workspace.add_fault("chat.postMessage", error)

    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel="C0OPS", text="first")
    second = await client.chat_postMessage(channel="C0OPS", text="second")

    assert failed.value.response.status_code == 200
    assert failed.value.response["ok"] is False
    assert failed.value.response["error"] == error
    assert second["ok"] is True
    assert [m.text for m in workspace.messages()] == ["second"]
    assert workspace.violations == []  # injected, so not the caller's mistake


async def test_an_injected_missing_scope_names_the_scope_the_method_needs(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.add_fault("users.info", "missing_scope")

    answer = await refusal(client.users_info(user="U0BOB"))

    assert (answer["error"], answer["needed"]) == ("missing_scope", "users:read")
    assert "users:read" in answer["provided"].split(",")


async def test_a_fault_set_over_http_answers_its_code_the_given_number_of_times(
    standin: ThreadedServer, client: AsyncWebClient
) -> None:
    async with httpx.AsyncClient(base_url=standin.url) as http:
        await http.post(
            "/_standin/faults",
            json={"method": "chat.update", "error": "cant_update_message", "times": 2},
        )
    ts = (await client.chat_postMessage(channel="C0OPS", text="a"))["ts"]

    errors = [
        (await refusal(client.chat_update(channel="C0OPS", ts=ts, text="b")))["error"]
        for _ in range(2)
    ]
    third = await client.chat_update(channel="C0OPS", ts=ts, text="c")

    assert errors == ["cant_update_message"] * 2
    assert third["text"] == "c"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("channel_not_found", 404),
        ("channel_is_archived", 410),
        ("action_prohibited", 403),
        ("invalid_blocks", 400),
        ("restricted_action", 400),
    ],
)
async def test_a_response_url_fault_answers_as_slack_hooks_do_with_a_status_and_the_code(
    standin: ThreadedServer, workspace: Workspace, error: str, status: int
) -> None:
    token = workspace.issue_response_url("C0OPS", "U0ALICE")
    workspace.add_fault("response_url", error)

    async with httpx.AsyncClient(base_url=standin.url) as http:
        failed = await http.post(f"/_responses/{token}", json={"text": "a"})
        then = await http.post(f"/_responses/{token}", json={"text": "b"})

    assert (failed.status_code, failed.text) == (status, error)
    assert (then.status_code, then.text) == (200, "ok")
    assert [e.text for e in workspace.ephemerals("U0ALICE")] == ["b"]


async def test_a_response_url_into_an_archived_channel_is_410_channel_is_archived(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    token = workspace.issue_response_url("C0OPS", "U0ALICE")
    workspace.archive_channel("C0OPS")

    async with httpx.AsyncClient(base_url=standin.url) as http:
        answer = await http.post(f"/_responses/{token}", json={"text": "late"})

    assert (answer.status_code, answer.text) == (410, "channel_is_archived")
    assert workspace.ephemerals() == []
    assert workspace.violations == []


async def test_a_response_url_works_in_a_private_channel_the_bot_is_not_in(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    workspace.add_channel("C0SECRET", "secret", private=True, bot_member=False)
    token = workspace.issue_response_url("C0SECRET", "U0ALICE")

    async with httpx.AsyncClient(base_url=standin.url) as http:
        answer = await http.post(
            f"/_responses/{token}", json={"text": "for all", "response_type": "in_channel"}
        )

    assert (answer.status_code, answer.text) == (200, "ok")
    assert [m.text for m in workspace.messages("C0SECRET")] == ["for all"]


# --- control routes that set up the workspace ---------------------------------------------


async def test_control_routes_add_channels_archive_them_and_move_the_bot(
    standin: ThreadedServer, client: AsyncWebClient, workspace: Workspace
) -> None:
    async with httpx.AsyncClient(base_url=standin.url) as http:
        added = await http.post(
            "/_standin/channels",
            json={"id": "C0SECRET", "name": "secret", "private": True, "bot_member": False},
        )
        archived = await http.post(
            "/_standin/channels", json={"id": "C0OLD", "name": "old", "archived": True}
        )
        kicked = await http.post("/_standin/channels/C0OPS/remove_bot")
        invited = await http.post("/_standin/channels/C0SECRET/add_bot")
        archive = await http.post("/_standin/channels/C0SECRET/archive")
        unknown = await http.post("/_standin/channels/C0NOWHERE/archive")
        bad = await http.post(
            "/_standin/channels", json={"id": "C0X", "name": "x", "private": "yes"}
        )
        listed = (await http.get("/_standin/channels")).json()["channels"]

    assert (added.json()["ok"], added.json()["channel"]["is_private"]) == (True, True)
    assert added.json()["channel"]["is_member"] is False
    assert archived.json()["channel"]["is_archived"] is True
    assert kicked.json()["channel"]["is_member"] is False
    assert invited.json()["channel"]["is_member"] is True
    assert archive.json()["channel"]["is_archived"] is True
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"ok": False, "error": "channel_not_found"},
    )
    assert bad.status_code == 400
    assert "C0X" not in workspace.channels
    states = {c["id"]: (c["is_private"], c["is_archived"], c["is_member"]) for c in listed}
    assert states == {
        "C0OPS": (False, False, False),
        "C0SECRET": (True, True, True),
        "C0OLD": (False, True, True),
    }
    assert (await refusal(client.chat_postMessage(channel="C0OLD", text="x")))[
        "error"
    ] == "is_archived"


async def test_control_routes_read_and_replace_the_granted_scopes(
    standin: ThreadedServer, client: AsyncWebClient
) -> None:
    async with httpx.AsyncClient(base_url=standin.url) as http:
        before = (await http.get("/_standin/scopes")).json()
        replaced = await http.put("/_standin/scopes", json={"scopes": ["chat:write", "users:read"]})
        bad = await http.put("/_standin/scopes", json={"scopes": "chat:write"})
        after = (await http.get("/_standin/scopes")).json()

    assert "users:read.email" in before["scopes"]
    assert replaced.json() == {"ok": True, "scopes": ["chat:write", "users:read"]}
    assert bad.status_code == 400
    assert after["scopes"] == ["chat:write", "users:read"]
    user = (await client.users_info(user="U0ALICE"))["user"]
    assert "email" not in user["profile"]
    assert (await refusal(client.conversations_join(channel="C0OPS")))["needed"] == "channels:join"


async def test_control_routes_add_users_and_set_their_emails(
    standin: ThreadedServer, client: AsyncWebClient
) -> None:
    async with httpx.AsyncClient(base_url=standin.url) as http:
        carol = await http.post(
            "/_standin/users",
            json={"id": "U0CAROL", "name": "carol", "email": "carol@example.com", "is_admin": True},
        )
        bob = await http.post(
            "/_standin/users", json={"id": "U0BOB", "email": "robert@example.com"}
        )
        cleared = await http.post("/_standin/users", json={"id": "U0ALICE", "email": None})
        nameless = await http.post("/_standin/users", json={"id": "U0DAVE"})
        listed = (await http.get("/_standin/users")).json()["users"]

    assert carol.json()["user"]["profile"]["email"] == "carol@example.com"
    assert (carol.json()["user"]["real_name"], carol.json()["user"]["is_admin"]) == ("carol", True)
    assert bob.json()["user"]["name"] == "bob"
    assert "email" not in cleared.json()["user"]["profile"]
    assert nameless.status_code == 400
    emails = {u["id"]: u["profile"].get("email") for u in listed}
    assert emails == {
        "U0ALICE": None,
        "U0BOB": "robert@example.com",
        "U0CAROL": "carol@example.com",
        "U0MIGRATEBOT": None,
    }
    seen = (await client.users_info(user="U0CAROL"))["user"]
    assert (seen["is_admin"], seen["profile"]["email"]) == (True, "carol@example.com")


# --- Block Kit checks without HTTP -------------------------------------------------------


def test_a_form_body_blocks_string_that_is_not_json_is_invalid_blocks_format() -> None:
    assert check_message("t", "[{not json").error == "invalid_blocks_format"


def test_missing_block_ids_and_action_ids_are_filled_in_as_slack_does() -> None:
    verdict = check_message("t", [actions(button() | {"action_id": "a"}) | {"block_id": "b"}])
    bare = check_message("t", [{"type": "actions", "elements": [button() | {"action_id": "a"}]}])

    assert verdict.blocks is not None
    assert verdict.blocks[0]["block_id"] == "b"
    assert bare.blocks is not None
    assert bare.blocks[0]["block_id"]
