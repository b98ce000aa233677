"""The rehearsal on real PostgreSQL under write load: nothing lost, and the check can fail."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.demo_app import DemoApp, check_loss
from sandbox.main import APP, Reporter, sandbox
from sandbox.stack import ALICE, API_KEY, BOB, Stack, wait_for

HEROKU_HEADERS = {
    "Accept": "application/vnd.heroku+json; version=3",
    "Authorization": f"Bearer {API_KEY}",
}


@pytest.fixture(scope="module")
def rehearsal() -> Iterator[tuple[Stack, DemoApp, Reporter]]:
    with sandbox(poll=0.2, web_rate=25, worker_rate=25) as running:
        yield running


def page(stack: Stack, action: str, **body: Any) -> dict[str, Any]:
    """Act through the Slack stand-in's page API, as the browser does."""
    response = httpx.post(f"{stack.slack.url}/_page/{action}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def database_url(stack: Stack) -> str:
    return stack.heroku.call(
        lambda: stack.world.config_vars(
            next(a for a in stack.world.apps.values() if a.name == APP)
        )["DATABASE_URL"]
    )


def test_a_changeover_under_write_load_loses_no_row_and_ends_on_the_new_database(
    rehearsal: tuple[Stack, DemoApp, Reporter],
) -> None:
    stack, demo, reporter = rehearsal
    wait_for("the demo app to write", lambda: len(demo.ledger.snapshot()) > 20)
    old_url = database_url(stack)

    page(stack, "slash", user=ALICE, text=f"/migrate start {APP} --to standard-2")
    for gate in ("approve_maintenance", "approve_promote", "approve_destroy"):
        message, button = wait_for(gate, lambda g=gate: stack.gate_button(g), 60, stack)
        page(
            stack,
            "click",
            user=BOB,
            message_ts=message.ts,
            action_id=button["action_id"],
            value=button["value"],
        )
    migration_id = wait_for(
        "the completion",
        lambda: next(
            (
                re.findall(r"mig-[a-z0-9]{6}", m.text)[0]
                for m in stack.thread()
                if m.text.startswith(":tada:")
            ),
            None,
        ),
        90,
        stack,
    )
    report = wait_for("the sandbox report", lambda: reporter.reports.get(migration_id), 30, stack)

    assert report.committed > 50 and report.committed_before > 0 and report.committed_after > 0
    assert report.missing == []
    assert database_url(stack) != old_url  # DATABASE_URL was rewritten to the new cluster
    state = stack.heroku_state()
    new = next(d for d in state["databases"] if d["name"] == f"{migration_id}-standard-2")
    assert new["following"] is None
    assert any("Rows missing on the new database: 0" in m.text for m in stack.thread())
    assert stack.heroku_violations() == [] and stack.workspace.violations == []


def test_promoting_while_a_worker_still_writes_loses_rows_and_the_check_says_so(
    rehearsal: tuple[Stack, DemoApp, Reporter],
) -> None:
    """The unsafe runbook by hand (no scale-down): the loss check must catch it."""
    stack, demo, _ = rehearsal
    base = stack.heroku.url
    with httpx.Client(base_url=base, headers=HEROKU_HEADERS, timeout=30) as heroku:
        current = heroku.get(f"/apps/{APP}/addon-attachments").json()
        old = next(a for a in current if a["name"] == "DATABASE")["addon"]
        created = heroku.post(
            f"/apps/{APP}/addons",
            json={
                "plan": "heroku-postgresql:standard-2",
                "config": {"follow": old["name"]},
                "name": "unsafe-follower",
            },
        )
        assert created.status_code == 201, created.text
        follower = created.json()

        def available() -> bool:
            # 404 at first: the Data API does not know a new database yet.
            status = heroku.get(f"/client/v11/databases/{follower['id']}/wait_status")
            return status.status_code == 200 and not status.json()["waiting?"]

        wait_for("the follower", available, 60)
        heroku.patch(f"/apps/{APP}", json={"maintenance": True})  # workers keep writing
        assert heroku.put(f"/client/v11/databases/{follower['id']}/unfollow").status_code == 200
        time.sleep(1.0)  # an engineer typing the next command while the worker writes on
        heroku.post("/addon-attachments", json={"addon": old["id"], "app": APP, "confirm": APP})
        promoted = heroku.post(
            "/addon-attachments",
            json={"addon": follower["id"], "app": APP, "name": "DATABASE", "confirm": APP},
        )
        assert promoted.status_code in (200, 201), promoted.text
        heroku.patch(f"/apps/{APP}", json={"maintenance": False})
    time.sleep(0.5)
    report = check_loss(demo.ledger, lambda: database_url(stack))
    assert report.missing, (
        "rows written to the old database after unfollow must be reported missing"
    )
    assert any(
        "Rows missing on the new database" in line and "ids" in line for line in report.lines
    )
