"""Who has access to each app: its owner and the collaborators a test adds.

Team apps grant named permissions (view, deploy, operate, manage); personal apps grant none,
so their collaborators list an empty `permissions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sandbox.heroku.records import App, new_id, timestamp

PERMISSIONS: dict[str, str] = {
    "view": "Can view the app, its activity, add-ons, config vars and logs.",
    "deploy": "Can deploy code, manage add-ons and dynos, and run one-off dynos.",
    "operate": "Can manage dynos, run one-off dynos and view metrics.",
    "manage": "Can manage config vars, collaborators and app settings, and delete the app.",
}
ROLES = frozenset({"admin", "collaborator", "member", "owner"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(slots=True)
class Collaborator:
    id: str
    app_id: str
    user_id: str
    email: str
    role: str
    permissions: tuple[str, ...]
    created_at: str
    updated_at: str
    federated: bool = False


class Collaborators:
    """Collaborators per app; one user id per email across apps, as one account has one id."""

    def __init__(self) -> None:
        self._by_app: dict[str, list[Collaborator]] = {}
        self._user_ids: dict[str, str] = {}

    def add(
        self,
        app: App,
        email: str,
        *,
        role: str = "collaborator",
        permissions: Iterable[str] = (),
        user_id: str | None = None,
    ) -> Collaborator:
        """Give `email` access to `app`; refuses unknown roles or permissions and duplicates."""
        if not _EMAIL.match(email):
            raise ValueError(f"{email!r} is not an email address")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; known: {', '.join(sorted(ROLES))}")
        granted = tuple(dict.fromkeys(permissions))
        unknown = sorted(set(granted) - set(PERMISSIONS))
        if unknown:
            raise ValueError(
                f"unknown permission(s) {', '.join(unknown)}; known: {', '.join(PERMISSIONS)}"
            )
        listed = self._by_app.setdefault(app.id, [])
        if any(c.email.lower() == email.lower() for c in listed):
            raise ValueError(f"{email} already has access to {app.name}")
        key = email.lower()
        uid = self._user_ids.setdefault(key, user_id or new_id())
        now = timestamp()
        found = Collaborator(new_id(), app.id, uid, email, role, granted, now, now)
        listed.append(found)
        return found

    def of(self, app: App) -> list[Collaborator]:
        return list(self._by_app.get(app.id, ()))
