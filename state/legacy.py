"""Records stored before methods were plug-ins, read as today's envelope.

Until then a migration was one flat record: the follower's fields beside the common ones,
and in-step checkpoints in a string-keyed `marks` dict. Such a record (written by a bot
before a redeploy, mid-window even) is turned into the envelope and carried on; it is written
back in today's shape at its next transition.
"""

from __future__ import annotations

import json
from typing import Any

_DROPPED = ("progress_ts", "progress_rev", "progress_shown", "marks", "promote_approved", "lag")
_MOVED = (
    "source_addon_id", "source_addon_name", "source_app", "source_plan", "source_version",
    "source_bytes", "follower_name", "follower_addon_id", "follower_attachment", "formation",
    "maintenance_before", "maintenance_on_at", "maintenance_off_at", "promoted_at",
    "release_baseline",
)  # fmt: skip


def upgrade(raw: str | bytes) -> dict[str, Any]:
    """The stored JSON as today's envelope (a record already in today's shape is unchanged)."""
    record: dict[str, Any] = json.loads(raw)
    if "data" in record:
        return record
    return _from_flat(record)


def _from_flat(old: dict[str, Any]) -> dict[str, Any]:
    marks: dict[str, str] = old.get("marks") or {}
    new = {k: v for k, v in old.items() if k not in _DROPPED and k not in _MOVED}
    new["method"] = old.get("method") or "changeover"
    new["hint"] = marks.get("hint")
    new["waiting"] = marks.get("waiting")
    new["pre_approved"] = ["approve_promote"] if old.get("promote_approved") else []
    new["committed_at"] = marks.get("promote_sent_at")
    if old.get("source_addon_id"):
        new["old"] = {
            "addon_id": old["source_addon_id"],
            "name": old.get("source_addon_name") or old["source_addon_id"],
            "app": old.get("source_app") or old["app"],
            "plan": old.get("source_plan") or "",
            "version": old.get("source_version"),
            "num_bytes": old.get("source_bytes"),
        }
    new["new"] = {
        "name": old["follower_name"],
        "addon_id": old.get("follower_addon_id"),
        "attachment": old.get("follower_attachment"),
    }
    promote_app = old.get("target_app") or old["app"]
    sent = {k.split(":", 1)[1]: v for k, v in marks.items() if k.startswith("promote_sent:")}
    if not sent and "promote_sent_at" in marks:
        sent = {promote_app: marks["promote_sent_at"]}
    poolers = [k.split(":", 1)[1] for k in marks if k.startswith("pooler:")]
    if marks.get("pooler") and promote_app not in poolers:
        poolers.append(promote_app)
    new["window"] = {
        "formation": old.get("formation") or {},
        "formation_final": marks.get("formation_final") == "1",
        "maintenance_before": old.get("maintenance_before") or {},
        "on_at": old.get("maintenance_on_at"),
        "off_at": old.get("maintenance_off_at"),
        "promote_sent": sent,
        "poolers": poolers,
        "release_baseline": old.get("release_baseline") or {},
        "promoted_at": old.get("promoted_at"),
        "destroy_sent_at": marks.get("destroy_sent_at"),
    }
    new["data"] = {
        "kind": "changeover",
        "lag": old.get("lag") or [],
        "create_sent_at": marks.get("create_sent_at"),
        "unfollow_sent_at": marks.get("unfollow_sent_at"),
        "unsafe_noticed": marks.get("unsafe_noticed"),
    }
    return new
