"""What every method's destroy gate shares: its check and its prompt."""

from __future__ import annotations

from bot.methods.base import Done, Outcome, Prompt, StepContext, Wait

DESTROY = Prompt(
    "Destroy the old database",
    "{promote_app} runs on the new database and verification passed. The bot will destroy "
    "{doomed}. *Their data is gone for good.* Keep it to end the migration without it.",
    reject="complete",
    reject_label="Keep the old database",
    reject_effect="Keeps the old database; the migration ends here.",
    destructive=True,
)


async def cooled_off(ctx: StepContext) -> Outcome:
    """Keep the old database a while after verification, if the team asked for that.

    Counted from the last step done before the gate (verification, and what followed it).
    """
    verified = max(ctx.m.completed.values(), default=None)
    cooling = ctx.settings.migrate_destroy_cooling_off_seconds
    if verified is None or cooling <= 0:
        return Done("")
    left = verified.timestamp() + cooling - ctx.clock().timestamp()
    if left > 0:
        return Wait(f"keeping the old database {left:.0f} s more before asking to destroy it", left)
    return Done("")
