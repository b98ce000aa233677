"""Postgres credentials and the attachment namespaces that name them.

Every database has the `default` credential; others are created on the database itself, so
a new database (a follower included) has only `default`, and an attachment in namespace
`credential:NAME` can only point at a database that has NAME.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sandbox.heroku import catalog
from sandbox.heroku.records import DEFAULT_CREDENTIAL, Addon, invalid

POOLER_NAMESPACE = "connection-pooling:default"
CREDENTIAL_PREFIX = "credential:"
_CREDENTIAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def credential_of(namespace: str | None) -> str:
    """The credential an attachment's URL logs in with."""
    if namespace is not None and namespace.startswith(CREDENTIAL_PREFIX):
        return namespace.removeprefix(CREDENTIAL_PREFIX)
    return DEFAULT_CREDENTIAL


def check_namespace(namespace: str | None, credentials: Sequence[str], database: str) -> None:
    """Refuse (422) a namespace Heroku Postgres does not know, or a credential not in
    `credentials` (those of the database named `database`)."""
    if namespace is None or namespace == POOLER_NAMESPACE:
        return
    if namespace.startswith(CREDENTIAL_PREFIX):
        name = credential_of(namespace)
        if name not in credentials:
            raise invalid(f"Could not find credential {name} for database {database}.")
        return
    raise invalid(f"Namespace {namespace} is not supported by {catalog.SERVICE}.")


def check_credential(plan: catalog.Plan, credentials: Sequence[str], name: str) -> None:
    """Refuse (ValueError) a new credential `name` beside `credentials` on a `plan` database."""
    if not _CREDENTIAL_NAME.match(name):
        raise ValueError(
            f"credential name {name!r} must start with a lowercase letter and use only "
            "lowercase letters, digits and underscores"
        )
    if plan.tier == "essential":
        raise ValueError("Essential databases have only the default credential")
    if name in credentials:
        raise ValueError(f"the database already has a credential named {name}")


def create_credential(addon: Addon, name: str) -> None:
    """Create credential `name` on `addon` (seeding: Heroku does it with pg:credentials:create)."""
    check_credential(addon.plan, addon.credentials, name)
    addon.credentials.append(name)
