"""Block Kit for every message the bot shows; pure functions of the state they describe.

A migration's thread reads like its runbook: the first message lists every step with its
state and is edited in place; new messages appear only where a person must act or know
(approvals, manual steps, failures) and for the final report. Everything from outside
(names, Heroku's texts, what a user typed) is escaped before it joins mrkdwn.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.lag import format_duration
from bot.methods import method_of
from bot.methods.base import Kind, Method, PlanReport, PlanRequest, Prompt, Step
from bot.slack.mrkdwn import cut, escape
from state.models import Approval, Decision, Migration, Status

Block = dict[str, Any]

APPROVE = "approve_step"
REJECT = "reject_step"
SECTION_LIMIT = 3000

_STATUS_ICON = {
    Status.RUNNING: ":arrows_counterclockwise:",
    Status.AWAITING_APPROVAL: ":raised_hand:",
    Status.FAILED: ":x:",
    Status.ABORTING: ":leftwards_arrow_with_hook:",
    Status.CANCELLED: ":no_entry_sign:",
    Status.REJECTED: ":no_entry_sign:",
    Status.COMPLETED: ":white_check_mark:",
}


def _text(kind: str, text: str) -> dict[str, str]:
    return {"type": kind, "text": text}


def section(text: str) -> Block:
    return {"type": "section", "text": _text("mrkdwn", cut(text, SECTION_LIMIT))}


def sections(lines: list[str]) -> list[Block]:
    """Lines packed into as few sections as their 3,000-character limit allows."""
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and len("\n".join([*chunk, line])) > SECTION_LIMIT:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [_text("mrkdwn", cut(t, 3000)) for t in texts[:10]]}


def header(text: str) -> Block:
    return {"type": "header", "text": _text("plain_text", text[:150])}


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else format_duration(seconds)


def _when(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S UTC") if at else "not yet"


def title(m: Migration) -> str:
    """Plain text (for plain_text fields and notification text): never parsed as mrkdwn."""
    return f"{m.app} {m.source} → {m.plan}" + (f" on {m.target_app}" if m.target_app else "")


def title_md(m: Migration) -> str:
    where = f" in *{escape(m.target_app)}*" if m.target_app else ""
    return f"*{escape(m.app)}* `{escape(m.source)}` → `{escape(m.plan)}`{where}"


def position(m: Migration) -> str:
    method = method_of(m)
    aborted = method.aborting(m.step)
    steps = method.abort if aborted else method.runbook
    prefix = "abort " if aborted else ""
    return f"{prefix}step {method.number(m.step)}/{len(steps)} · {method.step(m.step).title}"


def step_title(m: Migration, name: str) -> str:
    return method_of(m).step(name).title


def status_line(m: Migration) -> str:
    line = f"{_STATUS_ICON[m.status]} *{_status_word(m)}*"
    if not m.ended:
        line += f" · {position(m)}"
    if m.waiting and m.status is Status.RUNNING:
        line += f" · {m.waiting}"
    if m.error and m.status in (Status.FAILED, Status.RUNNING):
        line += f"\n> {m.error}"
    return line


def _status_word(m: Migration) -> str:
    if m.status is Status.FAILED and m.ended:
        return "failed, nothing was changed"
    return m.status.value.replace("_", " ")


def down_banner(m: Migration, now: datetime) -> str | None:
    """While maintenance is on: which apps are down, since when, for how long so far."""
    on_at = m.window.on_at
    if not m.down or on_at is None:
        return None
    apps = ", ".join(f"*{escape(a)}*" for a in m.apps_down)
    so_far = _seconds(max(0.0, (now - on_at).total_seconds()))
    return f":red_circle: {apps} down for maintenance since {_when(on_at)} ({so_far} so far)"


def _step_line(m: Migration, method: Method, step: Step, index: int, threshold: int) -> str:
    name = step.name
    note = ""
    if name in m.completed:
        icon = ":white_check_mark:"
        note = m.step_notes.get(name, "")
    elif name == m.step and not m.ended:
        if m.status is Status.FAILED:
            icon, note = ":x:", m.error or ""
        elif step.kind is Kind.GATE and m.status is Status.AWAITING_APPROVAL:
            approval = m.approvals.get(name)
            expires = f" (request expires {_when(approval.expires_at)})" if approval else ""
            icon, note = ":raised_hand:", f"waiting for a second engineer{expires}"
        else:
            icon = ":hourglass_flowing_sand:"
            live = method.progress(m, threshold) if step.shows_progress else None
            note = live or m.waiting or ""
    elif name == m.step and m.status is Status.FAILED:
        icon, note = ":x:", m.error or ""
    else:
        icon = ":white_small_square:"
    tag = " _(gate)_" if step.kind is Kind.GATE else ""
    text = f"{icon} {index}. *{step.title}*{tag}"
    return text + (f" — {cut(note, 300)}" if note else "")


def thread_parent(
    m: Migration, *, threshold: int = 200, now: datetime | None = None
) -> tuple[str, list[Block]]:
    """The runbook message: what is asked, the state, and every step with its own state."""
    now = now or datetime.now(UTC)
    method = method_of(m)
    summary = f"{title_md(m)}\nRequested by <@{m.requested_by}> · {method.title} · `{m.id}`"
    blocks: list[Block] = [header(f"Migration {m.id}"), section(summary)]
    banner = down_banner(m, now)
    if banner is not None:
        blocks.append(section(banner))
    blocks.append(section(status_line(m)))
    aborted = method.aborting(m.step)
    lines = [_step_line(m, method, s, i, threshold) for i, s in enumerate(method.runbook, 1)]
    if aborted or m.status in (Status.CANCELLED, Status.REJECTED):
        lines.append("*Putting things back:*")
        lines += [_step_line(m, method, s, i, threshold) for i, s in enumerate(method.abort, 1)]
    blocks += sections(lines)
    blocks.append(
        context(
            f"Updated {_when(now)} · `/migrate status {m.id}` · every platform call is in the "
            "bot's audit stream"
        )
    )
    text = f"Migration {m.id}: {title(m)} — {_status_word(m)}"
    if banner is not None:
        text = f"{m.app} is down for maintenance · " + text
    return escape(text), blocks


def button_value(m: Migration, approval: Approval, *, with_next: bool = False) -> str:
    # "p": approved together with the next gate (the promote, at the maintenance gate).
    return json.dumps(
        {"m": m.id, "g": approval.gate, "n": approval.nonce, "p": int(with_next)},
        separators=(",", ":"),
    )


def _confirm(title_: str, text: str, confirm: str, *, danger: bool) -> dict[str, Any]:
    return {
        "title": _text("plain_text", title_[:100]),
        "text": _text("plain_text", text[:300]),
        "confirm": _text("plain_text", confirm[:30]),
        "deny": _text("plain_text", "Cancel"),
        "style": "danger" if danger else "primary",
    }


def _prompt(m: Migration, gate: str) -> tuple[Step, Prompt]:
    step = method_of(m).step(gate)
    assert step.prompt is not None
    return step, step.prompt


def _gate_section(m: Migration, approval: Approval) -> Block:
    _, prompt = _prompt(m, approval.gate)
    body = prompt.body.format(
        apps=", ".join(escape(a) for a in m.apps_down),
        promote_app=escape(m.promote_app),
        doomed=method_of(m).doomed(m),
    )
    manual = [mv for mv in m.moves if mv.manual is not None]
    if prompt.destructive and manual:
        listed = ", ".join(f"`{escape(mv.app)}::{escape(mv.name)}`" for mv in manual)
        body += f"\n:warning: Do the manual steps first: {listed} still name the old database."
    return section(
        f":raised_hand: *Approval needed: {prompt.name}* (`{m.id}`, {title_md(m)})\n{body}"
    )


def _short(title_: str) -> str:
    return title_.removeprefix("Approve ").lower()


def approval_request(m: Migration, approval: Approval) -> tuple[str, list[Block]]:
    step, prompt = _prompt(m, approval.gate)
    value = button_value(m, approval)
    approve = {
        "type": "button",
        "action_id": APPROVE,
        "text": _text("plain_text", f"Approve {prompt.name.lower()}"[:75]),
        # The dangerous choice is red; at a destroy gate, keeping the database is the safe one.
        "style": "danger" if prompt.destructive else "primary",
        "value": value,
        "confirm": _confirm(
            f"Approve: {prompt.name}"[:100],
            f"{m.id}: {title(m)}. Two-person rule: only an engineer other than the one who "
            "started this migration can approve it.",
            "Approve",
            danger=prompt.destructive,
        ),
    }
    reject = {
        "type": "button",
        "action_id": REJECT,
        "text": _text("plain_text", prompt.reject_label[:75]),
        "style": "primary" if prompt.destructive else "danger",
        "value": value,
        "confirm": _confirm(
            f"Reject: {prompt.name}"[:100],
            prompt.reject_effect,
            "Reject",
            danger=not prompt.destructive,
        ),
    }
    blocks: list[Block] = [
        _gate_section(m, approval),
        context(
            f"Requested by <@{m.requested_by}>, who cannot approve it · "
            f"expires {_when(approval.expires_at)}"
        ),
        {"type": "actions", "block_id": f"gate-{approval.nonce}", "elements": [approve, reject]},
    ]
    if step.approves_with is not None:
        after = method_of(m).step(step.approves_with)
        both = {
            "type": "button",
            "action_id": APPROVE,
            "text": _text(
                "plain_text", f"Approve {_short(step.title)} + {_short(after.title)}"[:75]
            ),
            "value": button_value(m, approval, with_next=True),
            "confirm": _confirm(
                f"Approve {_short(step.title)} and {_short(after.title)}"[:100],
                f"{m.id}: {prompt.together}",
                "Approve both",
                danger=True,
            ),
        }
        blocks.append(
            {"type": "actions", "block_id": f"gate-{approval.nonce}-both", "elements": [both]}
        )
    return escape(f"Approval needed: {prompt.name} for {m.id}"), blocks


def approval_closed(m: Migration, approval: Approval) -> tuple[str, list[Block]]:
    step, prompt = _prompt(m, approval.gate)
    name = prompt.name
    if approval.decision is Decision.EXPIRED:
        outcome = (
            f":hourglass: Expired at {_when(approval.decided_at)} with no decision; "
            "a new request follows."
        )
    elif approval.decision is Decision.VOID:
        outcome = (
            f":warning: Void at {_when(approval.decided_at)}: {approval.void_reason}. "
            "A new request follows when it is safe again."
        )
    else:
        icons = {Decision.APPROVED: ":white_check_mark:", Decision.CANCELLED: ":no_entry_sign:"}
        icon = icons.get(approval.decision, ":x:") if approval.decision else ":x:"
        together = method_of(m).step(step.approves_with) if step.approves_with else None
        extra = (
            f" ({_short(together.title)} approved too)" if together and approval.with_next else ""
        )
        verb = approval.decision.value if approval.decision else "closed"
        when = _when(approval.decided_at)
        outcome = f"{icon} {verb.capitalize()} by <@{approval.decided_by}> at {when}{extra}"
    return f"{name} for {m.id}: {outcome}", [_gate_section(m, approval), context(outcome)]


def failed(m: Migration, error: str, hint: str) -> tuple[str, list[Block]]:
    """`error` and `hint` are mrkdwn already (outside text in them was escaped)."""
    where = method_of(m).step(m.step).title
    head = f":x: *{m.id} stopped at {where}*"
    if m.ended:
        head += f" — nothing was changed, {escape(m.app)} is free again"
    return f"{m.id} stopped at {where}", [
        section(f"{head}\n{error}"),
        section(f"*What to do:* {hint}" if hint else f"*What to do:* `/migrate status {m.id}`."),
    ]


def _gate_title(m: Migration, gate: str | None) -> str:
    return method_of(m).step(gate).title.lower() if gate is not None else "a gate"


def finished(m: Migration) -> tuple[str, list[Block]]:
    """The final report, in words that fit how it ended."""
    new = f"`{escape(m.new.name)}`"
    if m.status is Status.COMPLETED:
        lines = [
            f":tada: *{m.id} completed*: {escape(m.promote_app)} runs on {new} ({escape(m.plan)})."
        ]
    elif m.status is Status.REJECTED:
        decided = m.approvals.get(m.rejected_gate) if m.rejected_gate else None
        who = f" by <@{decided.decided_by}>" if decided and decided.decided_by else ""
        lines = [
            f":no_entry_sign: *{m.id} rejected*{who} at {_gate_title(m, m.rejected_gate)}: "
            f"{escape(m.app)} is back as it was, on its old database."
        ]
    elif m.status is Status.CANCELLED and m.window.promoted_at is not None:
        lines = [
            f":no_entry_sign: *{m.id} abandoned after promote*: nothing was rolled back; "
            f"{escape(m.promote_app)} runs on {new}."
        ]
    elif m.status is Status.CANCELLED:
        who = f" by <@{m.cancel_requested_by}>" if m.cancel_requested_by else ""
        lines = [
            f":no_entry_sign: *{m.id} cancelled*{who}: {escape(m.app)} is back as it was, on "
            "its old database."
        ]
    else:
        lines = [f":x: *{m.id} ended*: nothing was changed."]
    if m.downtime_seconds is not None:
        lines.append(
            f"Maintenance window: {_seconds(m.downtime_seconds)} "
            f"({_when(m.window.on_at)} → {_when(m.window.off_at)})."
        )
    elif m.status is not Status.COMPLETED:
        lines.append("The app was never taken down.")
    lines += m.notes
    return lines[0], [section("\n".join(lines))]


def status(m: Migration) -> list[Block]:
    """`/migrate status ID`: the runbook message, as the thread shows it."""
    return thread_parent(m)[1]


def listing(migrations: list[Migration]) -> list[Block]:
    if not migrations:
        return [section("No migrations yet. Start one with `/migrate start APP --to PLAN`.")]
    lines = [
        f"`{m.id}` {_STATUS_ICON[m.status]} {_status_word(m)} · {title_md(m)} · "
        f"{position(m) if not m.ended else 'ended ' + _when(m.finished_at)}"
        for m in migrations
    ]
    return sections(["*Recent migrations*", *lines])


def _tag(step: Step) -> str:
    if step.kind is Kind.GATE:
        return " _(gate: second engineer)_"
    return " _(disruptive)_" if step.disruptive else ""


def plan(method: Method, r: PlanRequest, report: PlanReport) -> list[Block]:
    """`/migrate plan`: the road, its steps and gates, what it found, and the downtime."""
    steps = [f"{i}. *{s.title}*: {s.ensures}{_tag(s)}" for i, s in enumerate(method.runbook, 1)]
    formation = "; ".join(
        f"{escape(app)}: " + (", ".join(f"{escape(t)}={q}" for t, q in types.items()) or "no dynos")
        for app, types in report.formation.items()
    )
    target = f" in *{escape(r.target_app)}*" if r.target_app else ""
    facts = f" {report.facts}" if report.facts else ""
    gates = [s for s in method.runbook if s.kind is Kind.GATE]
    named = ", ".join(_short(s.title) for s in gates)
    blocks = [
        section(
            f"*Plan: {escape(r.app)}* `{escape(r.source)}`{facts} → `{escape(r.plan)}`{target}\n"
            f"Road: {method.title}. Formation: {formation or 'unknown'}. Nothing has been changed."
        ),
        *sections(steps),
        section(
            f"*Gates:* {len(gates)} ({named}), each approved by an engineer other than the one "
            f"who starts it.\n*Expected downtime:* {report.downtime}"
        ),
    ]
    if report.blockers:
        blocks += sections([":x: *Blockers*", *(f"• {p}" for p in report.blockers)])
    if report.warnings:
        blocks += sections([":warning: *Warnings*", *(f"• {w}" for w in report.warnings)])
    return blocks
