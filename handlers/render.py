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

from bot.assess import Assessment
from bot.guardrails import size, slug
from bot.lag import LagSample, estimate, format_duration, render_progress
from bot.mrkdwn import cut, escape
from bot.runbook import ABORT, CHANGEOVER, GATES, STEPS, Kind, Step, number
from state.models import Approval, Decision, Migration, Status, StepName

Block = dict[str, Any]

_LAG_STEPS = (StepName.WAIT_CAUGHT_UP, StepName.WAIT_ZERO_LAG)

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

_GATE_TEXT = {
    StepName.APPROVE_MAINTENANCE: (
        "Maintenance window",
        "The bot will put {apps} into maintenance, scale every process type to 0, wait for the "
        "follower to reach 0 commits behind, then ask again before promoting (unless you approve "
        "both now). *The app is down from here until maintenance is off.*",
    ),
    StepName.APPROVE_PROMOTE: (
        "Promote",
        "The follower is 0 commits behind. The bot will unfollow it and promote it to DATABASE "
        "on {promote_app}, then scale back up and turn maintenance off. *This cannot be undone.*",
    ),
    StepName.APPROVE_DESTROY: (
        "Destroy the old database",
        "{promote_app} runs on the new database and verification passed. The bot will destroy "
        "{doomed}. *Their data is gone for good.* Keep it to end the migration without it.",
    ),
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


def _runbook(m: Migration) -> tuple[tuple[Step, ...], bool]:
    aborted = m.step in {s.name for s in ABORT}
    return (ABORT if aborted else CHANGEOVER), aborted


def position(m: Migration) -> str:
    steps, aborted = _runbook(m)
    prefix = "abort " if aborted else ""
    return f"{prefix}step {number(m.step)}/{len(steps)} · {STEPS[m.step].title}"


def status_line(m: Migration) -> str:
    line = f"{_STATUS_ICON[m.status]} *{_status_word(m)}*"
    if not m.ended:
        line += f" · {position(m)}"
    waiting = m.marks.get("waiting")
    if waiting and m.status is Status.RUNNING:
        line += f" · {waiting}"
    if m.error and m.status in (Status.FAILED, Status.RUNNING):
        line += f"\n> {m.error}"
    return line


def _status_word(m: Migration) -> str:
    if m.status is Status.FAILED and m.ended:
        return "failed, nothing was changed"
    return m.status.value.replace("_", " ")


def down_banner(m: Migration, now: datetime) -> str | None:
    """While maintenance is on: which apps are down, since when, for how long so far."""
    if not m.down or m.maintenance_on_at is None:
        return None
    apps = ", ".join(f"*{escape(a)}*" for a in m.apps_down)
    so_far = _seconds(max(0.0, (now - m.maintenance_on_at).total_seconds()))
    return (
        f":red_circle: {apps} down for maintenance since {_when(m.maintenance_on_at)} "
        f"({so_far} so far)"
    )


def _lag_line(m: Migration, threshold: int) -> str | None:
    if not m.lag:
        return None
    samples = [LagSample(at=p.at, behind_by=p.behind_by) for p in m.lag]
    target = 0 if m.step is StepName.WAIT_ZERO_LAG else threshold
    est = estimate(samples, target)
    return render_progress(est, target) if est else None


def _step_line(m: Migration, step: Step, index: int, threshold: int) -> str:
    name = step.name
    note = ""
    if name in m.completed:
        icon = ":white_check_mark:"
        note = m.step_notes.get(name, "")
    elif name is m.step and not m.ended:
        if m.status is Status.FAILED:
            icon, note = ":x:", m.error or ""
        elif step.kind is Kind.GATE and m.status is Status.AWAITING_APPROVAL:
            approval = m.approvals.get(name)
            expires = f" (request expires {_when(approval.expires_at)})" if approval else ""
            icon, note = ":raised_hand:", f"waiting for a second engineer{expires}"
        else:
            icon = ":hourglass_flowing_sand:"
            lag = _lag_line(m, threshold) if name in _LAG_STEPS else None
            note = lag or m.marks.get("waiting", "")
    elif name is m.step and m.status is Status.FAILED:
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
    summary = f"{title_md(m)}\nRequested by <@{m.requested_by}> · follower changeover · `{m.id}`"
    blocks: list[Block] = [header(f"Migration {m.id}"), section(summary)]
    banner = down_banner(m, now)
    if banner is not None:
        blocks.append(section(banner))
    blocks.append(section(status_line(m)))
    _, aborted = _runbook(m)
    lines = [_step_line(m, s, i, threshold) for i, s in enumerate(CHANGEOVER, start=1)]
    if aborted or m.status in (Status.CANCELLED, Status.REJECTED):
        lines.append("*Putting things back:*")
        lines += [_step_line(m, s, i, threshold) for i, s in enumerate(ABORT, start=1)]
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


def button_value(m: Migration, approval: Approval, *, with_promote: bool = False) -> str:
    return json.dumps(
        {"m": m.id, "g": approval.gate.value, "n": approval.nonce, "p": int(with_promote)},
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


def doomed(m: Migration) -> str:
    """Everything the destroy removes, by name (mrkdwn)."""
    names = [f"the old database `{escape(m.source_addon_name or '?')}`"]
    if m.followers:
        names.append("its old followers " + ", ".join(f"`{escape(f.name)}`" for f in m.followers))
    return " and ".join(names)


def _gate_section(m: Migration, approval: Approval) -> Block:
    name, body = _GATE_TEXT[approval.gate]
    body = body.format(
        apps=", ".join(escape(a) for a in m.apps_down),
        promote_app=escape(m.promote_app),
        doomed=doomed(m),
    )
    manual = [mv for mv in m.moves if mv.manual is not None]
    if approval.gate is StepName.APPROVE_DESTROY and manual:
        listed = ", ".join(f"`{escape(mv.app)}::{escape(mv.name)}`" for mv in manual)
        body += f"\n:warning: Do the manual steps first: {listed} still name the old database."
    return section(f":raised_hand: *Approval needed: {name}* (`{m.id}`, {title_md(m)})\n{body}")


def approval_request(m: Migration, approval: Approval) -> tuple[str, list[Block]]:
    name, _ = _GATE_TEXT[approval.gate]
    value = button_value(m, approval)
    destroy = approval.gate is StepName.APPROVE_DESTROY
    approve = {
        "type": "button",
        "action_id": APPROVE,
        "text": _text("plain_text", f"Approve {name.lower()}"[:75]),
        # The dangerous choice is red; at the destroy gate, keeping the database is the safe one.
        "style": "danger" if destroy else "primary",
        "value": value,
        "confirm": _confirm(
            f"Approve: {name}"[:100],
            f"{m.id}: {title(m)}. Two-person rule: only an engineer other than the one who "
            "started this migration can approve it.",
            "Approve",
            danger=destroy,
        ),
    }
    reject_text = (
        "Keeps the old database; the migration ends here."
        if destroy
        else "Aborts the migration: the app is put back as it was and the follower is removed."
    )
    reject = {
        "type": "button",
        "action_id": REJECT,
        "text": _text("plain_text", "Keep the old database" if destroy else "Reject"),
        "value": value,
        "confirm": _confirm(f"Reject: {name}"[:100], reject_text, "Reject", danger=not destroy),
    }
    reject["style"] = "primary" if destroy else "danger"
    blocks: list[Block] = [
        _gate_section(m, approval),
        context(
            f"Requested by <@{m.requested_by}>, who cannot approve it · "
            f"expires {_when(approval.expires_at)}"
        ),
        {"type": "actions", "block_id": f"gate-{approval.nonce}", "elements": [approve, reject]},
    ]
    if approval.gate is StepName.APPROVE_MAINTENANCE:
        both = {
            "type": "button",
            "action_id": APPROVE,
            "text": _text("plain_text", "Approve maintenance + promote"),
            "value": button_value(m, approval, with_promote=True),
            "confirm": _confirm(
                "Approve maintenance and promote",
                f"{m.id}: the bot will also promote as soon as the follower is 0 commits behind, "
                "without asking again. This cannot be undone.",
                "Approve both",
                danger=True,
            ),
        }
        blocks.append(
            {"type": "actions", "block_id": f"gate-{approval.nonce}-both", "elements": [both]}
        )
    return escape(f"Approval needed: {name} for {m.id}"), blocks


def approval_closed(m: Migration, approval: Approval) -> tuple[str, list[Block]]:
    name, _ = _GATE_TEXT[approval.gate]
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
        extra = " (promote approved too)" if approval.with_promote else ""
        verb = approval.decision.value if approval.decision else "closed"
        when = _when(approval.decided_at)
        outcome = f"{icon} {verb.capitalize()} by <@{approval.decided_by}> at {when}{extra}"
    return f"{name} for {m.id}: {outcome}", [_gate_section(m, approval), context(outcome)]


def failed(m: Migration, error: str, hint: str) -> tuple[str, list[Block]]:
    """`error` and `hint` are mrkdwn already (outside text in them was escaped)."""
    where = STEPS[m.step].title
    head = f":x: *{m.id} stopped at {where}*"
    if m.ended:
        head += f" — nothing was changed, {escape(m.app)} is free again"
    return f"{m.id} stopped at {where}", [
        section(f"{head}\n{error}"),
        section(f"*What to do:* {hint}" if hint else f"*What to do:* `/migrate status {m.id}`."),
    ]


def _gate_title(gate: StepName | None) -> str:
    return STEPS[gate].title.lower() if gate is not None else "a gate"


def finished(m: Migration) -> tuple[str, list[Block]]:
    """The final report, in words that fit how it ended."""
    new = f"`{escape(m.follower_name)}`"
    if m.status is Status.COMPLETED:
        lines = [
            f":tada: *{m.id} completed*: {escape(m.promote_app)} runs on {new} ({escape(m.plan)})."
        ]
    elif m.status is Status.REJECTED:
        decided = m.approvals.get(m.rejected_gate) if m.rejected_gate else None
        who = f" by <@{decided.decided_by}>" if decided and decided.decided_by else ""
        lines = [
            f":no_entry_sign: *{m.id} rejected*{who} at {_gate_title(m.rejected_gate)}: "
            f"{escape(m.app)} is back as it was, on its old database."
        ]
    elif m.status is Status.CANCELLED and m.promoted_at is not None:
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
            f"({_when(m.maintenance_on_at)} → {_when(m.maintenance_off_at)})."
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


def plan(a: Assessment) -> list[Block]:
    r = a.request
    steps = []
    for i, s in enumerate(CHANGEOVER, start=1):
        tag = (
            " _(gate: second engineer)_"
            if s.kind is Kind.GATE
            else (" _(disruptive)_" if s.disruptive else "")
        )
        steps.append(f"{i}. *{s.title}*: {s.ensures}{tag}")
    source = ""
    if a.source is not None:
        facts = [escape(a.source.name), escape(slug(a.source.plan.name))]
        database = a.surroundings.database if a.surroundings else None
        if database is not None and database.major_version:
            facts.append(f"PostgreSQL {escape(database.major_version)}")
        if database is not None and database.num_bytes is not None:
            facts.append(size(database.num_bytes))
        source = f" ({', '.join(facts)})"
    formation = "; ".join(
        f"{escape(app)}: " + (", ".join(f"{escape(t)}={q}" for t, q in types.items()) or "no dynos")
        for app, types in a.formation.items()
    )
    target = f" in *{escape(r.target_app)}*" if r.target_app else ""
    blocks = [
        section(
            f"*Plan: {escape(r.app)}* `{escape(r.source)}`{source} → `{escape(r.plan)}`{target}\n"
            f"Road: follower changeover. Formation: {formation or 'unknown'}. "
            "Nothing has been changed."
        ),
        *sections(steps),
        section(
            f"*Gates:* {len(GATES)} (maintenance, promote, destroy), each approved by an engineer "
            "other than the one who starts it.\n*Expected downtime:* from maintenance on to off, "
            "usually under a minute once the follower is caught up: the time to stop the dynos, "
            "reach 0 commits behind, unfollow and promote."
        ),
    ]
    if a.blockers:
        blocks += sections([":x: *Blockers*", *(f"• {p}" for p in a.blockers)])
    if a.warnings:
        blocks += sections([":warning: *Warnings*", *(f"• {w}" for w in a.warnings)])
    return blocks
