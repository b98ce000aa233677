"""The release phase: how long a release stays pending and whether it ends failed.

An app whose formation has a `release` process type runs a release phase for every release
(attach and detach included); it stays `pending` for `release_seconds`, then ends
`succeeded`, or `failed` when its description matches one of the app's failure patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sandbox.heroku.records import App, Release, new_id, timestamp


class ReleasePhase:
    """Release timing and the failure patterns tests arm per app (keyed by app id)."""

    def __init__(self, clock: Callable[[], float], release_seconds: float = 0.0) -> None:
        self.release_seconds = release_seconds
        self._clock = clock
        self._failures: dict[str, list[re.Pattern[str]]] = {}

    def add_failure(self, app: App, pattern: str) -> None:
        """Make the app's future releases whose description matches `pattern` fail."""
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid release failure pattern {pattern!r}: {exc}") from None
        self._failures.setdefault(app.id, []).append(compiled)

    def clear_failures(self, app: App | None = None) -> None:
        """Forget the failure patterns of `app`, or of every app."""
        if app is None:
            self._failures.clear()
        else:
            self._failures.pop(app.id, None)

    def failures(self) -> dict[str, list[str]]:
        """Failure patterns by app id."""
        return {app_id: [p.pattern for p in found] for app_id, found in self._failures.items()}

    def new(
        self, app: App, description: str, plans: tuple[str, ...], *, immediate: bool = False
    ) -> Release:
        """Append the app's next release; `immediate` (seeding) skips the release phase."""
        phased = "release" in app.formation and not immediate
        # The outcome is fixed when the release is made: the phase runs the code of that moment.
        fails = phased and any(p.search(description) for p in self._failures.get(app.id, ()))
        done_at = self._clock() + (self.release_seconds if phased else 0.0)
        release = Release(
            new_id(), len(app.releases) + 1, description, timestamp(), done_at, plans, fails
        )
        app.releases.append(release)
        return release

    def status(self, release: Release) -> str:
        if self._clock() < release.done_at:
            return "pending"
        return "failed" if release.fails else "succeeded"

    def current(self, app: App) -> Release | None:
        """The release the app runs: the newest that succeeded (a pending or failed one is not)."""
        for release in reversed(app.releases):
            if self.status(release) == "succeeded":
                return release
        return None
