"""The names of the follower changeover's steps, then of its abort path (stored as they are)."""

from __future__ import annotations

from enum import StrEnum


class StepName(StrEnum):
    PREFLIGHT = "preflight"
    CREATE_FOLLOWER = "create_follower"
    WAIT_AVAILABLE = "wait_available"
    WAIT_CAUGHT_UP = "wait_caught_up"
    APPROVE_MAINTENANCE = "approve_maintenance"
    MAINTENANCE_ON = "maintenance_on"
    SCALE_DOWN = "scale_down"
    WAIT_ZERO_LAG = "wait_zero_lag"
    APPROVE_PROMOTE = "approve_promote"
    UNFOLLOW = "unfollow"
    PROMOTE = "promote"
    MOVE_ATTACHMENTS = "move_attachments"
    SCALE_UP = "scale_up"
    MAINTENANCE_OFF = "maintenance_off"
    VERIFY = "verify"
    RECREATE_FOLLOWERS = "recreate_followers"
    APPROVE_DESTROY = "approve_destroy"
    DESTROY_OLD = "destroy_old"
    ABORT_SCALE_UP = "abort_scale_up"
    ABORT_MAINTENANCE_OFF = "abort_maintenance_off"
    ABORT_REMOVE_FOLLOWER = "abort_remove_follower"
