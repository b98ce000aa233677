"""Contracts of reading a record stored before methods were plug-ins (pure)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.methods.changeover import ChangeoverData
from state.models import Migration

RECORD = Path(__file__).parent / "records" / "changeover-v1-promote-gate.json"


def test_a_v1_record_at_the_promote_gate_reads_as_the_envelope() -> None:
    m = Migration.from_stored(RECORD.read_text())
    assert (m.method, m.step, m.status.value) == (
        "changeover",
        "approve_promote",
        "awaiting_approval",
    )
    assert m.old is not None and m.old.name == "postgresql-horizontal-29772"
    assert (m.old.plan, m.old.version, m.old.num_bytes) == (
        "heroku-postgresql:standard-0",
        "16",
        8388608,
    )
    assert m.new.name == "mig-egy48t-standard-2" and m.new.attachment == "HEROKU_POSTGRESQL_BLUE"
    assert m.window.formation == {"shop": {"web": 2, "worker": 1}} and m.window.formation_final
    assert m.down and m.window.off_at is None
    assert m.pre_approved == [] and m.committed_at is None
    assert isinstance(m.data, ChangeoverData) and m.data.create_sent_at is not None
    assert [p.behind_by for p in m.data.lag][-1] == 0
    assert m.approvals["approve_promote"].nonce == "Cgq2UkS_6X3L"


def test_marks_of_a_promote_already_sent_become_the_point_of_no_return() -> None:
    raw = json.loads(RECORD.read_text())
    raw["step"] = "promote"
    raw["promote_approved"] = True
    raw["marks"] |= {"promote_sent_at": "2026-12-04T21:16:00+00:00", "pooler": "1"}
    m = Migration.from_stored(json.dumps(raw))
    assert m.committed_at is not None and m.committed_at.isoformat() == "2026-12-04T21:16:00+00:00"
    assert m.window.promote_sent == {"shop": "2026-12-04T21:16:00+00:00"}
    assert m.pre_approved == ["approve_promote"] and m.window.poolers == ["shop"]


def test_a_record_in_todays_shape_reads_back_equal() -> None:
    m = Migration.from_stored(RECORD.read_text())
    assert Migration.from_stored(m.model_dump_json()) == m
