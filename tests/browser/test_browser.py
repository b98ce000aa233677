"""The Slack stand-in's page in a real Chromium: Block Kit drawn safely, and a whole changeover
run by two people clicking in the browser against the running bot."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from sandbox.main import APP, sandbox
from sandbox.server import ThreadedServer
from sandbox.slack import Workspace, create_app
from sandbox.slack.page import register_page
from sandbox.stack import ALICE, BOB, Stack
from tests.conftest import REPO_ROOT

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO_ROOT / "screenshots" / "browser-changeover.png"
CONFIRM_SCREENSHOT = REPO_ROOT / "screenshots" / "browser-confirm.png"
STEP_TIMEOUT_MS = 20_000

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no `chromium` on PATH: install the system package (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab; any script error or console error fails the test that used it."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: ConsoleMessage) -> None:
        # A failed request is the page's own retry path (the server stops before the tab).
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console: {message.text}")

    tab.on("console", on_console)
    yield tab
    context.close()
    assert problems == []


@pytest.fixture
def lone_standin() -> Iterator[tuple[Workspace, ThreadedServer]]:
    """The Slack stand-in with its page and no bot behind it."""
    workspace = Workspace()
    app = create_app(workspace, bot_token="xoxb-browser-test", contracts_dir=None)
    register_page(app, workspace, lambda: None)
    with ThreadedServer(app) as server:
        yield workspace, server


@pytest.fixture
def stack() -> Iterator[Stack]:
    """The whole sandbox: real PostgreSQL, the demo app writing, the bot."""
    with sandbox(poll=0.2) as (running, _demo, _reporter):
        yield running


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


SHOWCASE: list[dict[str, Any]] = [
    {"type": "header", "text": plain("Showcase :tada:")},
    mrkdwn(
        "*bold* _italic_ ~gone~ `code` approve_step_x <@U0BOB> <#C0OPS> :tada: :not_an_emoji:\n"
        '<script>window.pwned = 1</script> &lt;img src=x onerror="window.pwned = 2"&gt; '
        "<javascript:alert(1)|click me> <https://example.invalid/docs|the docs>\n"
        "&gt; quoted line\n```line one\n<b>not bold</b>```"
    ),
    {"type": "divider"},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Requested by <@U0ALICE>"}]},
    {
        "type": "actions",
        "elements": [
            {"type": "button", "action_id": "go", "style": "primary", "text": plain("Go")},
            {
                "type": "button",
                "action_id": "drop",
                "style": "danger",
                "text": plain("Drop it"),
                "confirm": {
                    "title": plain("Drop the database?"),
                    "text": {"type": "mrkdwn", "text": "*Gone* for good."},
                    "confirm": plain("Drop"),
                    "deny": plain("Keep it"),
                    "style": "danger",
                },
            },
        ],
    },
]


RICH_TEXT: dict[str, Any] = {
    "type": "rich_text",
    "elements": [
        {
            "type": "rich_text_section",
            "elements": [
                {"type": "text", "text": "typed by "},
                {"type": "user", "user_id": BOB},
                {"type": "text", "text": " "},
                {"type": "emoji", "name": "white_check_mark"},
            ],
        }
    ],
}


def test_block_kit_is_drawn_like_slack_and_no_message_can_inject_markup(
    page: Page, lone_standin: tuple[Workspace, ThreadedServer]
) -> None:
    workspace, server = lone_standin
    shown = workspace.post_message("C0OPS", text="Showcase", blocks=SHOWCASE)
    workspace.update_message("C0OPS", shown.ts, text="Showcase", blocks=SHOWCASE)
    workspace.post_message("C0OPS", text="<script>window.pwned = 3</script> from bob", user=BOB)
    workspace.post_ephemeral("C0OPS", ALICE, text="Psst, alice", source="ack")
    workspace.post_message("C0OPS", text="a reply", thread_ts=shown.ts, user=BOB)
    workspace.post_message("C0OPS", text="typed", blocks=[RICH_TEXT], user=ALICE)

    page.goto(f"{server.url}/?user={ALICE}")
    bot_message = page.get_by_test_id("message").filter(has_text="Showcase")
    expect(bot_message.get_by_test_id("app-badge")).to_have_text("APP")
    expect(bot_message.get_by_test_id("message-author")).to_have_text("migrate-bot")
    expect(bot_message.get_by_test_id("edited")).to_have_text("(edited)")
    expect(bot_message.get_by_test_id("block-header")).to_have_text("Showcase 🎉")
    section = bot_message.get_by_test_id("block-section")
    expect(section.locator("strong")).to_have_text("bold")
    expect(section.locator("em")).to_have_text("italic")
    expect(section.locator("s")).to_have_text("gone")
    expect(section.locator("code")).to_have_text("code")
    expect(section.locator("blockquote")).to_have_text("quoted line")
    expect(section.locator("pre")).to_have_text("line one\n<b>not bold</b>")
    expect(section.get_by_test_id("mention")).to_have_text(["@bob", "#ops"])
    expect(section.get_by_test_id("emoji")).to_have_text(["🎉"])
    expect(section).to_contain_text("approve_step_x")
    expect(section).to_contain_text(":not_an_emoji:")
    expect(section).to_contain_text("<script>window.pwned = 1</script>")
    expect(section).to_contain_text('<img src=x onerror="window.pwned = 2">')
    expect(section).to_contain_text("<javascript:alert(1)|click me>")
    expect(section.get_by_test_id("link")).to_have_attribute("href", "https://example.invalid/docs")
    expect(bot_message.get_by_test_id("block-context").get_by_test_id("mention")).to_have_text(
        "@alice"
    )
    expect(bot_message.locator(".block-divider")).to_have_count(1)
    expect(bot_message.get_by_role("button", name="Go")).to_have_class(re.compile("btn-primary"))
    human = page.get_by_test_id("message").filter(has_text="from bob")
    expect(human.get_by_test_id("message-author")).to_have_text("bob")
    expect(human.get_by_test_id("app-badge")).to_have_count(0)
    expect(human).to_contain_text("<script>window.pwned = 3</script> from bob")
    assert page.locator("#messages script, #messages img, #messages b").count() == 0
    assert page.evaluate("window.pwned") is None

    typed = page.get_by_test_id("message").filter(has_text="typed by")
    expect(typed.get_by_test_id("block-rich-text")).to_have_text("typed by @bob ✅")

    bot_message.get_by_test_id("open-thread").click()
    thread = page.get_by_test_id("thread-pane")
    expect(thread.get_by_test_id("message")).to_have_count(2)
    expect(thread.get_by_test_id("message").last).to_contain_text("a reply")
    expect(thread.get_by_test_id("open-thread")).to_have_count(0)
    page.get_by_test_id("thread-close").click()
    expect(thread).to_be_hidden()

    note = page.get_by_test_id("message").filter(has_text="Psst, alice")
    expect(note.get_by_test_id("ephemeral-note")).to_contain_text("Only visible to you")
    expect(note.get_by_test_id("message-author")).to_have_text("migrate-bot")
    expect(note.get_by_test_id("app-badge")).to_have_text("APP")
    workspace.post_ephemeral("C0OPS", ALICE, text="Slackbot says hi", source="slack")
    dismissable = page.get_by_test_id("message").filter(has_text="Slackbot says hi")
    expect(dismissable.get_by_test_id("message-author")).to_have_text("Slackbot")
    expect(dismissable.get_by_test_id("app-badge")).to_have_count(0)
    dismissable.get_by_test_id("dismiss").click()
    expect(dismissable).to_have_count(0)
    expect(note).to_have_count(1)
    page.get_by_test_id("user-switcher").select_option(BOB)
    expect(page.get_by_text("Psst, alice")).to_have_count(0)
    expect(page).to_have_url(re.compile(f"user={BOB}"))

    # Deny closes the dialog and sends nothing; confirm sends the click (here: no bot yet).
    bot_message.get_by_role("button", name="Drop it").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog.get_by_test_id("confirm-title")).to_have_text("Drop the database?")
    expect(dialog.get_by_test_id("confirm-text").locator("strong")).to_have_text("Gone")
    expect(dialog.get_by_test_id("confirm-confirm")).to_have_class(re.compile("btn-danger"))
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("toast")).to_have_count(0)
    bot_message.get_by_role("button", name="Drop it").click()
    dialog.get_by_role("button", name="Drop").click()
    expect(page.get_by_test_id("toast")).to_have_text("The bot is not running yet; try again soon.")

    composer = page.get_by_test_id("composer-input")
    composer.fill("/deploy shop")
    composer.press("Enter")
    expect(page.get_by_test_id("composer-error")).to_contain_text("/deploy is not a valid command")
    expect(composer).to_have_value("/deploy shop")
    composer.fill("hello team")
    composer.press("Enter")
    expect(page.get_by_test_id("composer-error")).to_contain_text("Try /migrate help")


def approve(page: Page, thread: Locator, button: str, screenshot: Path | None = None) -> None:
    """Click an approval button in the thread and confirm its dialog."""
    thread.get_by_role("button", name=button, exact=True).click(timeout=STEP_TIMEOUT_MS)
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    if screenshot is not None:
        page.screenshot(path=str(screenshot))
    dialog.get_by_test_id("confirm-confirm").click()
    expect(dialog).to_be_hidden()


def test_two_engineers_run_a_follower_changeover_from_the_browser(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.slack.url}/")
    expect(page.get_by_test_id("channel-title")).to_have_text("#ops")
    page.get_by_test_id("user-switcher").select_option(ALICE)
    composer = page.get_by_test_id("composer-input")
    composer.fill(f"/migrate start {APP} --to standard-2")
    composer.press("Enter")
    expect(composer).to_have_value("")

    channel = page.get_by_test_id("messages")
    parent = channel.get_by_test_id("message").filter(has_text="Migration mig-")
    expect(parent.get_by_test_id("app-badge")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(parent).to_contain_text("Requested by @alice")
    header = parent.get_by_test_id("block-header").inner_text()
    migration_id = re.search(r"mig-[a-z0-9]{6}", header)
    assert migration_id is not None, header
    started = channel.get_by_test_id("message").filter(has_text=f"Started {migration_id.group(0)}")
    expect(started.get_by_test_id("ephemeral-note")).to_contain_text("Only visible to you")
    parent.get_by_test_id("open-thread").click(timeout=STEP_TIMEOUT_MS)
    thread = page.get_by_test_id("thread-pane")
    expect(thread).to_be_visible()
    expect(thread.get_by_role("button", name="Approve maintenance + promote")).to_be_visible(
        timeout=STEP_TIMEOUT_MS
    )

    # The requester's own approval is refused, shown to her alone.
    approve(page, thread, "Approve maintenance window")
    refusal = thread.get_by_test_id("message").filter(has_text="two-person")
    expect(refusal.get_by_test_id("ephemeral-note")).to_be_visible(timeout=STEP_TIMEOUT_MS)

    page.get_by_test_id("user-switcher").select_option(BOB)
    expect(thread.get_by_test_id("message").filter(has_text="two-person")).to_have_count(0)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    approve(page, thread, "Approve maintenance window", screenshot=CONFIRM_SCREENSHOT)
    decided = thread.get_by_test_id("message").filter(has_text="Approved by @bob at")
    expect(decided.first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(decided.first.get_by_test_id("edited")).to_be_visible()
    approve(page, thread, "Approve promote")
    approve(page, thread, "Approve destroy the old database")

    done = thread.get_by_test_id("message").filter(has_text=f"{migration_id.group(0)} completed")
    expect(done).to_contain_text("Maintenance window", timeout=STEP_TIMEOUT_MS)
    expect(done.get_by_test_id("emoji")).to_have_text("🎉")
    expect(decided).to_have_count(3)
    expect(thread.get_by_test_id("block-actions")).to_have_count(0)
    expect(page.locator("#app")).not_to_contain_text("<@U0")
    expect(parent).to_contain_text("completed")

    # The sandbox's own report: nothing the demo app committed is missing on the new database.
    report = thread.get_by_test_id("message").filter(has_text="Sandbox report for")
    expect(report).to_contain_text("Rows missing on the new database: 0", timeout=STEP_TIMEOUT_MS)
    expect(report).to_contain_text("no row lost")
    report.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
    shop = next(a for a in stack.heroku_state()["apps"] if a["name"] == APP)
    assert shop["maintenance"] is False
    assert stack.workspace.violations == []
