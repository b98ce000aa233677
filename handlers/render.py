"""Block Kit for every message the bot shows; pure functions of the state they describe."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.lag import LagSample, estimate, format_duration, render_progress
from bot.runbook import CHANGEOVER, GATES, STEPS, Kind, number
from state.models import Approval, Decision, Migration, Status, StepName

Block = dict[str, Any]

APPROVE = "approve_step"
REJECT = "reject_step"

_STATUS_ICON = {
    Status.RUNNING: ":arrows_counterclockwise:",
    Status.AWAITING_APPROVAL: ":raised_hand:",
    Status.FAILED: ":x:",
    Status.ABORTING: ":leftwards_arrow_with_hook:",
    Status.CANCELLED: ":no_entry_sign:",
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
        "the old database `{old}`. *Its data is gone for good.* Reject to keep it.",
    ),
}


def _text(kind: str, text: str) -> dict[str, str]:
    return {"type": kind, "text": text}


def section(text: str) -> Block:
    return {"type": "section", "text": _text("mrkdwn", text[:3000])}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [_text("mrkdwn", t[:3000]) for t in texts[:10]]}


def header(text: str) -> Block:
    return {"type": "header", "text": _text("plain_text", text[:150])}


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else format_duration(seconds)


def _when(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S UTC") if at else "?"


def title(m: Migration) -> str:
    return f"{m.app} {m.source} → {m.plan}" + (f" on {m.target_app}" if m.target_app else "")


def position(m: Migration) -> str:
    step = STEPS[m.step]
    total = len(CHANGEOVER) if step in CHANGEOVER else len(STEPS) - len(CHANGEOVER)
    prefix = "abort " if step not in CHANGEOVER else ""
    return f"{prefix}step {number(m.step)}/{total} · {step.title}"


def status_line(m: Migration) -> str:
    line = f"{_STATUS_ICON[m.status]} *{m.status.value.replace('_', ' ')}*"
    if not m.status.terminal:
        line += f" · {position(m)}"
    waiting = m.marks.get("waiting")
    if waiting and m.status is Status.RUNNING:
        line += f" · {waiting}"
    if m.error and m.status in (Status.FAILED, Status.RUNNING):
        line += f"\n> {m.error}"
    return line


def thread_parent(m: Migration) -> tuple[str, list[Block]]:
    text = f"Migration {m.id}: {title(m)}"
    blocks = [
        header(f"Migration {m.id}"),
        section(
            f"*{m.app}* `{m.source}` → `{m.plan}`"
            + (f" in *{m.target_app}*" if m.target_app else "")
            + f"\nRequested by <@{m.requested_by}> · follower changeover"
        ),
        section(status_line(m)),
        context("Progress, approvals and the audit trail follow in this thread."),
    ]
    return text, blocks


def step_done(m: Migration, step: StepName, note: str) -> str:
    s = STEPS[step]
    prefix = "Abort " if s not in CHANGEOVER else ""
    return f":white_check_mark: {prefix}{number(step)}. *{s.title}*" + (f": {note}" if note else "")


def progress_for(m: Migration, threshold: int) -> tuple[str, list[Block]]:
    """The single, updated-in-place progress message: lag, trend and ETA."""
    samples = [LagSample(at=p.at, behind_by=p.behind_by) for p in m.lag]
    target = 0 if m.step is StepName.WAIT_ZERO_LAG else threshold
    est = estimate(samples, target)
    line = render_progress(est, target) if est else "Behind By not reported yet"
    done = m.step not in (StepName.WAIT_CAUGHT_UP, StepName.WAIT_ZERO_LAG)
    icon = ":white_check_mark:" if done else ":hourglass_flowing_sand:"
    return f"Follower lag: {line}", [
        section(f"{icon} *Follower lag* ({position(m)})\n{line}"),
        context(f"Updated {_when(datetime.fromtimestamp(m.lag[-1].at)) if m.lag else '?'}"),
    ]


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


def _gate_section(m: Migration, approval: Approval) -> Block:
    name, body = _GATE_TEXT[approval.gate]
    body = body.format(
        apps=", ".join(m.apps_down), promote_app=m.promote_app, old=m.source_addon_name or "?"
    )
    return section(f":raised_hand: *Approval needed: {name}* ({m.id}, {title(m)})\n{body}")


def approval_request(m: Migration, approval: Approval) -> tuple[str, list[Block]]:
    name, _ = _GATE_TEXT[approval.gate]
    value = button_value(m, approval)
    approve = {
        "type": "button",
        "action_id": APPROVE,
        "text": _text("plain_text", f"Approve {name.lower()}"[:75]),
        "style": "primary",
        "value": value,
        "confirm": _confirm(
            f"Approve: {name}"[:100],
            f"{m.id}: {title(m)}. You are the second engineer for this step.",
            "Approve",
            danger=approval.gate is StepName.APPROVE_DESTROY,
        ),
    }
    reject_text = (
        "Keeps the old database; the migration ends here."
        if approval.gate is StepName.APPROVE_DESTROY
        else "Aborts the migration: the app is put back as it was and the follower is removed."
    )
    reject = {
        "type": "button",
        "action_id": REJECT,
        "text": _text("plain_text", "Reject"),
        "style": "danger",
        "value": value,
        "confirm": _confirm(f"Reject: {name}"[:100], reject_text, "Reject", danger=True),
    }
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
    return f"Approval needed: {name} for {m.id}", blocks


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
    return f"{m.id} stopped: {error}", [
        section(f":x: *{m.id} stopped at {STEPS[m.step].title}*\n{error}"),
        section(f"*What to do:* {hint}" if hint else "*What to do:* see `/migrate status`."),
    ]


def finished(m: Migration) -> tuple[str, list[Block]]:
    if m.status is Status.COMPLETED:
        lines = [
            f":tada: *{m.id} completed*: {m.promote_app} runs on `{m.follower_name}` ({m.plan})."
        ]
    else:
        lines = [f":no_entry_sign: *{m.id} cancelled*: {m.app} is back as it was."]
    if m.downtime_seconds is not None:
        lines.append(
            f"Maintenance window: {_seconds(m.downtime_seconds)} "
            f"({_when(m.maintenance_on_at)} → {_when(m.maintenance_off_at)})."
        )
    lines += m.notes
    return lines[0], [section("\n".join(lines))]


def status(m: Migration) -> list[Block]:
    done = [
        f"{'✓' if s.name in m.completed else ('→' if s.name is m.step else '·')} {i}. {s.title}"
        for i, s in enumerate(CHANGEOVER, start=1)
    ]
    blocks = [
        section(f"*{m.id}* · {title(m)} · requested by <@{m.requested_by}>"),
        section(status_line(m)),
        section("```" + "\n".join(done) + "```"),
    ]
    if m.lag:
        blocks.append(context(f"Last Behind By: {m.lag[-1].behind_by} commits"))
    if m.downtime_seconds is not None:
        blocks.append(context(f"Downtime: {_seconds(m.downtime_seconds)}"))
    return blocks


def listing(migrations: list[Migration]) -> list[Block]:
    if not migrations:
        return [section("No migrations yet. Start one with `/migrate start APP --to PLAN`.")]
    lines = [
        f"`{m.id}` {_STATUS_ICON[m.status]} {m.status.value.replace('_', ' ')} · {title(m)} · "
        f"{position(m) if not m.status.terminal else _when(m.finished_at)}"
        for m in migrations
    ]
    return [section("*Recent migrations*\n" + "\n".join(lines))]


@dataclass(frozen=True)
class PlanReport:
    """What `/migrate plan` found on the platform."""

    app: str
    plan: str
    source: str
    target_app: str | None
    source_addon: str | None = None
    source_plan: str | None = None
    formation: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def plan(report: PlanReport) -> list[Block]:
    steps = []
    for i, s in enumerate(CHANGEOVER, start=1):
        tag = (
            " _(gate: second engineer)_"
            if s.kind is Kind.GATE
            else (" _(disruptive)_" if s.disruptive else "")
        )
        steps.append(f"{i}. *{s.title}*: {s.ensures}{tag}")
    formation = ", ".join(f"{t}={q}" for t, q in report.formation.items()) or "no dynos"
    blocks = [
        section(
            f"*Plan: {report.app}* `{report.source}`"
            + (f" ({report.source_addon}, {report.source_plan})" if report.source_addon else "")
            + f" → `{report.plan}`"
            + (f" in *{report.target_app}*" if report.target_app else "")
            + f"\nCurrent formation: {formation}. Nothing has been changed."
        ),
        section("\n".join(steps)),
        section(
            f"*Gates:* {len(GATES)} (maintenance, promote, destroy), each approved by an engineer "
            "other than the one who starts it.\n*Expected downtime:* from maintenance on to off, "
            "usually under a minute once the follower is caught up: the time to stop the dynos, "
            "reach 0 commits behind, unfollow and promote."
        ),
    ]
    if report.problems:
        blocks.append(section(":x: *Blockers*\n" + "\n".join(f"• {p}" for p in report.problems)))
    if report.warnings:
        blocks.append(
            section(":warning: *Warnings*\n" + "\n".join(f"• {w}" for w in report.warnings))
        )
    return blocks
