"""Argument contracts of the Web API methods, read from Slack's OpenAPI 2.0 spec."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SPEC_FILE = "slack-web-api.openapi.json"

# Bolt's per-request client adds team_id to every call (org-wide installs); Slack accepts it.
UNIVERSAL_ARGS = frozenset({"team_id"})
# Arguments Slack added after the 2020 spec (slack-ruby/slack-api-ref method files).
NEWER_ARGS: dict[str, frozenset[str]] = {
    "chat.postMessage": frozenset({"metadata", "markdown_text"}),
    "chat.update": frozenset({"metadata", "markdown_text", "reply_broadcast", "file_ids"}),
    "chat.postEphemeral": frozenset({"markdown_text"}),
    "usergroups.users.list": frozenset(),
    "users.info": frozenset(),
    "conversations.info": frozenset(),
    "conversations.join": frozenset(),
    "chat.getPermalink": frozenset(),
    "auth.test": frozenset(),
}


@dataclass(frozen=True)
class MethodContract:
    """What one method accepts, as the spec states it (token excluded)."""

    method: str
    known: frozenset[str]
    required: frozenset[str]
    accepts_json: bool

    def problems(self, args: dict[str, object], *, json_body: bool) -> list[str]:
        """Contract breaches in a call's arguments, worded for a violation record."""
        found = [
            f"missing required argument '{name}'" for name in sorted(self.required - set(args))
        ]
        found += [f"unknown argument '{name}'" for name in sorted(set(args) - self.known)]
        if json_body and not self.accepts_json:
            found.append("JSON body sent to a method that only reads form or query arguments")
        return found


@lru_cache(maxsize=4)
def load_contracts(contracts_dir: Path) -> dict[str, MethodContract]:
    """Contracts of every method in the spec, keyed by method name."""
    spec = json.loads((contracts_dir / SPEC_FILE).read_text(encoding="utf-8"))
    contracts: dict[str, MethodContract] = {}
    for path, operations in spec["paths"].items():
        method = path.lstrip("/")
        for operation in operations.values():
            params = [p for p in operation.get("parameters", []) if p["name"] != "token"]
            contracts[method] = MethodContract(
                method=method,
                known=frozenset(p["name"] for p in params)
                | NEWER_ARGS.get(method, frozenset())
                | UNIVERSAL_ARGS,
                required=frozenset(p["name"] for p in params if p.get("required")),
                accepts_json="application/json" in operation.get("consumes", []),
            )
    return contracts
