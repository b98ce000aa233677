"""The Slack stand-in's page: its state feed, and slash commands and clicks sent on to a bot."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.server import ThreadedServer
from sandbox.slack import SlackDriver, Workspace, create_app
from sandbox.slack.page import STATIC_DIR, register_page
from sandbox.stack import free_port

TOKEN = "xoxb-page-test-token"
SECRET = "page-test-signing-secret"
APPROVAL: list[dict[str, Any]] = [
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
            }
        ],
    },
]


@pytest.fixture
def workspace() -> Workspace:
    return Workspace()


@pytest.fixture
def drivers() -> list[SlackDriver]:
    """What the page's driver factory hands out: empty until a bot is there."""
    return []


@pytest.fixture
def standin(
    workspace: Workspace, drivers: list[SlackDriver], contracts_dir: Path
) -> Iterator[ThreadedServer]:
    app = create_app(workspace, bot_token=TOKEN, contracts_dir=contracts_dir)
    register_page(app, workspace, lambda: drivers[0] if drivers else None)
    with ThreadedServer(app) as server:
        yield server


@pytest.fixture
def seen() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def bot(
    standin: ThreadedServer,
    workspace: Workspace,
    drivers: list[SlackDriver],
    seen: list[dict[str, Any]],
) -> Iterator[ThreadedServer]:
    """A Bolt app: /migrate posts an approval in a thread; approve_step edits it."""
    app = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=f"{standin.url}/api/"),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @app.command("/migrate")
    async def migrate(ack: Any, command: dict[str, Any], client: AsyncWebClient) -> None:
        seen.append(command)
        await ack(f"Starting {command['text']}")
        parent = await client.chat_postMessage(channel=command["channel_id"], text="Migration")
        await client.chat_postMessage(
            channel=command["channel_id"], thread_ts=parent["ts"], text="Approve?", blocks=APPROVAL
        )

    @app.action("approve_step")
    async def approve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seen.append(body)
        await client.chat_update(
            channel=body["channel"]["id"],
            ts=body["container"]["message_ts"],
            text=f"Approved by <@{body['user']['id']}>",
            blocks=[],
        )

    with ThreadedServer(app.web_app(path="/slack/events")) as server:
        drivers.append(SlackDriver(f"{server.url}/slack/events", SECRET, standin.url, workspace))
        yield server


def state(standin: ThreadedServer, **params: Any) -> httpx.Response:
    return httpx.get(f"{standin.url}/_page/state", params=params, timeout=30)


def send(standin: ThreadedServer, route: str, body: Any) -> httpx.Response:
    return httpx.post(f"{standin.url}/_page/{route}", json=body, timeout=30)


def approval_in_thread(standin: ThreadedServer) -> dict[str, Any]:
    assert send(standin, "slash", {"user": "U0ALICE", "text": "/migrate start shop"}).is_success
    (parent,) = state(standin, user="U0BOB").json()["messages"]
    (reply,) = parent["replies"]
    return dict(reply)


# --- the page and its files ----------------------------------------------------------------


def test_the_page_is_served_at_the_root_with_a_policy_that_forbids_other_origins(
    standin: ThreadedServer,
) -> None:
    page = httpx.get(standin.url + "/")

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert 'data-testid="composer-input"' in page.text
    for asset in re.findall(r'(?:src|href)="(/_page/static/[^"]+)"', page.text):
        assert httpx.get(standin.url + asset).status_code == 200


def test_the_script_and_stylesheet_are_served_with_their_types(standin: ThreadedServer) -> None:
    script = httpx.get(standin.url + "/_page/static/app.js")
    style = httpx.get(standin.url + "/_page/static/style.css")

    assert script.headers["Content-Type"].startswith(("text/javascript", "application/javascript"))
    assert style.headers["Content-Type"].startswith("text/css")


def test_the_static_files_load_nothing_from_the_network() -> None:
    for path in STATIC_DIR.iterdir():
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", source), path.name
        assert "@import" not in source and "@font-face" not in source, path.name


def test_the_page_does_not_shadow_the_web_api_methods(standin: ThreadedServer) -> None:
    reply = httpx.post(standin.url + "/api/auth.test", headers={"Authorization": f"Bearer {TOKEN}"})

    assert reply.json()["ok"] is True


# --- the state feed ------------------------------------------------------------------------


def test_state_groups_thread_replies_under_their_parent_and_names_the_authors(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    parent = workspace.post_message("C0OPS", text="Migration mig-1")
    workspace.post_message("C0OPS", text="step 1", thread_ts=parent.ts)
    workspace.post_message("C0OPS", text="hello", user="U0BOB")

    body = state(standin, user="U0ALICE").json()

    assert body["ok"] is True
    assert body["channel"]["name"] == "ops"
    assert body["bot_user_id"] == "U0MIGRATEBOT"
    top = [(m["text"], m["user_name"], m["is_bot"]) for m in body["messages"]]
    assert top == [("Migration mig-1", "migrate-bot", True), ("hello", "bob", False)]
    assert [r["text"] for r in body["messages"][0]["replies"]] == ["step 1"]
    assert body["messages"][0]["reply_count"] == 1
    assert body["messages"][1]["replies"] == []
    people = {u["name"]: u["is_bot"] for u in body["users"]}
    assert people == {"alice": False, "bob": False, "migrate-bot": True}


def test_state_shows_ephemeral_messages_to_their_user_only(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    workspace.post_ephemeral("C0OPS", "U0ALICE", text="only for alice", source="ack")

    for_alice = state(standin, user="U0ALICE").json()["ephemerals"]
    for_bob = state(standin, user="U0BOB").json()["ephemerals"]
    for_nobody = state(standin).json()["ephemerals"]

    assert [e["text"] for e in for_alice] == ["only for alice"]
    assert for_bob == []
    assert for_nobody == []


def test_an_edited_message_is_marked_edited_in_the_state(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    message = workspace.post_message("C0OPS", text="before")
    workspace.update_message("C0OPS", message.ts, text="after", blocks=None)

    (row,) = state(standin).json()["messages"]

    assert row["text"] == "after"
    assert "edited" in row


def test_a_long_poll_returns_as_soon_as_the_workspace_changes(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    revision = state(standin).json()["revision"]
    threading.Timer(0.3, lambda: workspace.post_message("C0OPS", text="news")).start()

    started = time.monotonic()
    body = state(standin, since=revision, wait=10).json()
    waited = time.monotonic() - started

    assert 0.25 <= waited < 3
    assert body["revision"] > revision
    assert [m["text"] for m in body["messages"]] == ["news"]


def test_a_long_poll_with_nothing_new_returns_the_same_revision_after_the_wait(
    standin: ThreadedServer,
) -> None:
    revision = state(standin).json()["revision"]

    started = time.monotonic()
    body = state(standin, since=revision, wait=0.3).json()

    assert time.monotonic() - started >= 0.3
    assert body["revision"] == revision


def test_a_poll_behind_the_current_revision_answers_at_once(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    workspace.post_message("C0OPS", text="already there")

    started = time.monotonic()
    body = state(standin, since=0, wait=20).json()

    assert time.monotonic() - started < 1
    assert body["revision"] >= 1


def test_the_server_stops_promptly_while_a_long_poll_is_waiting(
    workspace: Workspace, contracts_dir: Path
) -> None:
    app = create_app(workspace, bot_token=TOKEN, contracts_dir=contracts_dir)
    register_page(app, workspace, lambda: None)
    server = ThreadedServer(app).start()
    outcome: list[int] = []

    def poll() -> None:
        try:
            outcome.append(state(server, since=workspace.revision, wait=25).status_code)
        except httpx.HTTPError:
            outcome.append(-1)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    poller.join(5)

    assert time.monotonic() - started < 3
    assert outcome in ([200], [-1])


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"since": "soon"}, 400, "invalid_arguments"),
        ({"since": "0", "wait": "nan"}, 400, "invalid_arguments"),
        ({"user": "U0NOBODY"}, 400, "user_not_found"),
        ({"user": "U0MIGRATEBOT"}, 400, "user_is_bot"),
        ({"channel": "C0NOWHERE"}, 404, "channel_not_found"),
    ],
)
def test_bad_state_queries_are_refused_with_a_named_error(
    standin: ThreadedServer, params: dict[str, str], status: int, error: str
) -> None:
    reply = state(standin, **params)

    assert reply.status_code == status
    assert reply.json()["ok"] is False
    assert reply.json()["error"] == error


def api(standin: ThreadedServer, method: str, body: dict[str, Any]) -> dict[str, Any]:
    """Call the stand-in's Web API as the bot does."""
    reply = httpx.post(
        f"{standin.url}/api/{method}",
        json=body,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json; charset=utf-8",
        },
    )
    answer: dict[str, Any] = reply.json()
    return answer


def test_an_ephemeral_posted_in_a_thread_is_shown_under_its_parent_not_at_the_root(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    parent = workspace.post_message("C0OPS", text="Migration mig-1")
    reply = workspace.post_message("C0OPS", text="step 1", thread_ts=parent.ts)
    api(standin, "chat.postEphemeral", {"channel": "C0OPS", "user": "U0ALICE", "text": "at root"})
    in_thread = api(
        standin,
        "chat.postEphemeral",
        {"channel": "C0OPS", "user": "U0ALICE", "text": "in thread", "thread_ts": parent.ts},
    )

    alice = state(standin, user="U0ALICE").json()
    bob = state(standin, user="U0BOB").json()

    assert in_thread["ok"] is True
    assert [e["text"] for e in alice["ephemerals"]] == ["at root"]
    (row,) = alice["messages"]
    assert [r["ts"] for r in row["replies"]] == [reply.ts]
    assert [(e["text"], e["thread_ts"], e["ts"]) for e in row["ephemerals"]] == [
        ("in thread", parent.ts, in_thread["message_ts"])
    ]
    assert row["reply_count"] == 1  # Slack does not count ephemerals as replies
    assert bob["ephemerals"] == []
    assert bob["messages"][0]["ephemerals"] == []


def test_an_ephemeral_aimed_at_a_reply_lands_in_the_parents_thread(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    parent = workspace.post_message("C0OPS", text="Migration mig-1")
    reply = workspace.post_message("C0OPS", text="step 1", thread_ts=parent.ts)

    api(
        standin,
        "chat.postEphemeral",
        {"channel": "C0OPS", "user": "U0ALICE", "text": "psst", "thread_ts": reply.ts},
    )

    (row,) = state(standin, user="U0ALICE").json()["messages"]
    assert [e["text"] for e in row["ephemerals"]] == ["psst"]
    assert "ephemerals" not in row["replies"][0]


def test_a_thread_holding_only_an_ephemeral_still_carries_it_on_its_parent(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    parent = workspace.post_message("C0OPS", text="Migration mig-1")
    workspace.post_ephemeral(
        "C0OPS", "U0ALICE", text="only you", source="chat.postEphemeral", thread_ts=parent.ts
    )

    body = state(standin, user="U0ALICE").json()

    (row,) = body["messages"]
    assert (row["replies"], "reply_count" in row) == ([], False)
    assert [e["text"] for e in row["ephemerals"]] == ["only you"]
    assert body["ephemerals"] == []


def test_an_ephemeral_whose_thread_parent_is_gone_stays_visible_at_the_root(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    parent = workspace.post_message("C0OPS", text="soon gone")
    workspace.post_ephemeral("C0OPS", "U0ALICE", text="orphan", source="ack", thread_ts=parent.ts)
    workspace.delete_message("C0OPS", parent.ts)

    body = state(standin, user="U0ALICE").json()

    assert body["messages"] == []
    assert [e["text"] for e in body["ephemerals"]] == ["orphan"]


def test_state_says_which_channels_are_private_archived_or_without_the_bot(
    standin: ThreadedServer, workspace: Workspace
) -> None:
    workspace.add_channel("C0SECRET", "secret", private=True, bot_member=False)
    workspace.add_channel("C0OLD", "old")
    workspace.archive_channel("C0OLD")

    body = state(standin, channel="C0SECRET").json()

    assert body["channel"]["is_private"] is True
    assert body["channels"] == [
        {
            "id": "C0OPS",
            "name": "ops",
            "is_private": False,
            "is_archived": False,
            "is_member": True,
        },
        {
            "id": "C0SECRET",
            "name": "secret",
            "is_private": True,
            "is_archived": False,
            "is_member": False,
        },
        {"id": "C0OLD", "name": "old", "is_private": False, "is_archived": True, "is_member": True},
    ]


def test_a_slash_command_in_an_archived_channel_is_refused_and_never_reaches_the_bot(
    standin: ThreadedServer,
    bot: ThreadedServer,
    seen: list[dict[str, Any]],
    workspace: Workspace,
) -> None:
    workspace.add_channel("C0OLD", "old")
    workspace.archive_channel("C0OLD")

    reply = send(standin, "slash", {"user": "U0ALICE", "channel": "C0OLD", "text": "/migrate help"})

    assert reply.status_code == 409
    assert reply.json()["error"] == "is_archived"
    assert seen == []
    assert workspace.ephemerals() == []


def test_a_slash_command_in_a_private_channel_without_the_bot_still_reaches_it(
    standin: ThreadedServer,
    bot: ThreadedServer,
    seen: list[dict[str, Any]],
    workspace: Workspace,
) -> None:
    workspace.add_channel("C0SECRET", "secret", private=True, bot_member=False)

    reply = send(standin, "slash", {"user": "U0ALICE", "channel": "C0SECRET", "text": "/migrate x"})

    # Slack delivers the command anyway; only the bot's own post there fails (this test bot
    # does not cope, hence its 500).
    assert reply.json()["ok"] is True
    assert [c["channel_id"] for c in seen] == ["C0SECRET"]
    assert workspace.calls == ["auth.test", "chat.postMessage"]
    assert workspace.messages("C0SECRET") == []


# --- slash commands and clicks -------------------------------------------------------------


def test_a_migrate_command_reaches_the_bot_signed_and_its_ack_is_shown_to_the_typist(
    standin: ThreadedServer, bot: ThreadedServer, seen: list[dict[str, Any]]
) -> None:
    reply = send(standin, "slash", {"user": "U0ALICE", "text": "  /migrate start shop --to x "})

    assert reply.json() == {"ok": True, "status": 200}
    (command,) = seen
    assert (command["command"], command["text"], command["user_id"]) == (
        "/migrate",
        "start shop --to x",
        "U0ALICE",
    )
    alice = state(standin, user="U0ALICE").json()
    assert [e["text"] for e in alice["ephemerals"]] == ["Starting start shop --to x"]
    assert state(standin, user="U0BOB").json()["ephemerals"] == []


@pytest.mark.parametrize(
    ("text", "error", "says"),
    [
        ("/deploy shop", "invalid_command", "/deploy is not a valid command"),
        ("hello team", "not_a_command", "Try /migrate help"),
        ("   ", "no_text", "Type a command"),
    ],
)
def test_anything_but_a_migrate_command_is_refused_and_never_reaches_the_bot(
    standin: ThreadedServer,
    bot: ThreadedServer,
    seen: list[dict[str, Any]],
    workspace: Workspace,
    text: str,
    error: str,
    says: str,
) -> None:
    reply = send(standin, "slash", {"user": "U0ALICE", "text": text})

    assert reply.status_code == 400
    assert reply.json()["error"] == error
    assert says in reply.json()["message"]
    assert seen == []
    assert workspace.messages() == []


def test_a_click_reaches_the_bot_as_block_actions_from_the_chosen_user(
    standin: ThreadedServer, bot: ThreadedServer, seen: list[dict[str, Any]]
) -> None:
    approval = approval_in_thread(standin)

    reply = send(
        standin,
        "click",
        {
            "user": "U0BOB",
            "message_ts": approval["ts"],
            "action_id": "approve_step",
            "value": "mig-1",
        },
    )

    assert reply.json() == {"ok": True, "status": 200}
    click = seen[-1]
    assert click["type"] == "block_actions"
    assert click["user"]["id"] == "U0BOB"
    assert click["container"]["message_ts"] == approval["ts"]
    assert click["actions"][0]["value"] == "mig-1"
    (parent,) = state(standin).json()["messages"]
    (edited,) = parent["replies"]
    assert edited["text"] == "Approved by <@U0BOB>"
    assert "edited" in edited


def test_a_click_on_a_button_that_is_not_on_the_message_is_a_conflict(
    standin: ThreadedServer, bot: ThreadedServer, seen: list[dict[str, Any]]
) -> None:
    approval = approval_in_thread(standin)
    clicks_before = len(seen)

    reply = send(
        standin,
        "click",
        {"user": "U0BOB", "message_ts": approval["ts"], "action_id": "reject_step"},
    )

    assert reply.status_code == 409
    assert reply.json()["error"] == "no_such_button"
    assert len(seen) == clicks_before


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"user": "U0MIGRATEBOT", "text": "/migrate help"}, "user_is_bot"),
        ({"user": "U0NOBODY", "text": "/migrate help"}, "user_not_found"),
        ({"text": "/migrate help"}, "user_not_found"),
        ([1, 2], "invalid_json"),
    ],
)
def test_commands_from_bots_strangers_or_malformed_bodies_are_refused(
    standin: ThreadedServer,
    bot: ThreadedServer,
    seen: list[dict[str, Any]],
    body: Any,
    error: str,
) -> None:
    reply = send(standin, "slash", body)

    assert reply.status_code == 400
    assert reply.json()["error"] == error
    assert seen == []


def test_a_click_without_an_action_id_is_refused(
    standin: ThreadedServer, bot: ThreadedServer
) -> None:
    reply = send(standin, "click", {"user": "U0BOB", "message_ts": "1.000001"})

    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_arguments"


@pytest.mark.parametrize("route", ["slash", "click"])
def test_slash_commands_and_clicks_answer_503_until_the_bot_is_known(
    standin: ThreadedServer, workspace: Workspace, route: str
) -> None:
    body = {"user": "U0ALICE", "text": "/migrate help", "message_ts": "1.1", "action_id": "a"}

    reply = send(standin, route, body)

    assert reply.status_code == 503
    assert reply.json() == {
        "ok": False,
        "error": "bot_not_ready",
        "message": "The bot is not running yet; try again soon.",
    }
    assert workspace.ephemerals() == []


def test_a_bot_that_does_not_answer_is_dispatch_failed_as_slack_shows_it(
    standin: ThreadedServer, workspace: Workspace, drivers: list[SlackDriver]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/slack/events"
    drivers.append(SlackDriver(nowhere, SECRET, standin.url, workspace, timeout=2))

    reply = send(standin, "slash", {"user": "U0ALICE", "text": "/migrate help"})

    assert reply.status_code == 502
    assert reply.json()["error"] == "dispatch_failed"
    shown = state(standin, user="U0ALICE").json()["ephemerals"]
    assert [e["text"] for e in shown] == ['/migrate failed with the error "dispatch_failed"']


def test_no_answer_of_the_page_reveals_the_signing_secret(
    standin: ThreadedServer, bot: ThreadedServer
) -> None:
    approval = approval_in_thread(standin)
    answers = [
        httpx.get(standin.url + "/").text,
        state(standin, user="U0ALICE").text,
        send(standin, "click", {"user": "U0BOB", "message_ts": approval["ts"]}).text,
        send(standin, "slash", {"user": "U0BOB", "text": "/migrate help"}).text,
    ]

    for answer in answers:
        assert SECRET not in answer
        assert TOKEN not in answer
    assert json.loads(answers[1])["ok"] is True


def test_the_page_draws_every_emoji_the_bot_writes() -> None:
    # The sandbox shows what Slack shows: a shortcode the page does not know stays ":raw:".
    root = Path(__file__).resolve().parents[2]
    written = {
        name
        for package in ("bot", "handlers")
        for path in (root / package).rglob("*.py")
        for name in re.findall(r"(?<![\w:]):([a-z_]+):(?=[\s\"])", path.read_text())
    }
    script = (root / "sandbox" / "slack" / "static" / "mrkdwn.js").read_text()
    known = set(re.findall(r"^  ([a-z_]+): \"", script, re.M))
    assert written and written <= known, sorted(written - known)
