"""Errors raised by the Heroku client.

Our exception hierarchy:

* HerokuError
  + HerokuAPIError            - Heroku answered with an error status and body {id, message, url}.
  | + NotFound                - 404
  | + Unauthorized            - 401
  | + Forbidden               - 403
  | | + TwoFactorRequired     - 403 {"id": "two_factor"}
  | + Unprocessable           - 422, 400, 409, 423
  | + RateLimited             - 429
  | + ServerError             - 5xx
  + HerokuTransportError      - no answer: connection refused or dropped.
  | + HerokuTimeout           - no answer within the client's timeout.
  + CreateOutcomeUnknown      - a create failed mid-flight and the look-up failed too.
  + UnexpectedResponse        - a 2xx body that does not have the shape we rely on.

No message or repr carries the API key or any other credential: messages hold the method,
the path and Heroku's own error text only.
"""

from __future__ import annotations

from state.errors import MigrateError


class HerokuError(MigrateError):
    """Base class of every error the Heroku client raises."""


class HerokuAPIError(HerokuError):
    """Heroku answered with an error status; `id` is Heroku's machine-readable error id."""

    hint = ""

    def __init__(
        self,
        status: int,
        id: str,
        message: str,
        url: str | None = None,
        request_id: str = "",
        *,
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.id = id
        self.message = message
        self.url = url
        self.request_id = request_id
        self.method = method
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        where = f" on {self.method} {self.path}" if self.method else ""
        text = f"Heroku {self.status} {self.id}{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        if self.request_id:
            text += f" [request {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, id={self.id!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class NotFound(HerokuAPIError):
    """404: the app, add-on or database does not exist or the key's account cannot see it."""

    hint = "check the name, and that HEROKU_API_KEY's account can access this app"


class Unauthorized(HerokuAPIError):
    """401: the API key is missing, wrong, expired or revoked."""

    hint = "set HEROKU_API_KEY to a valid token, e.g. from `heroku authorizations:create`"


class Forbidden(HerokuAPIError):
    """403: the key's account lacks a permission on this app."""

    hint = "grant HEROKU_API_KEY's account the deploy/operate permission on this app"


class TwoFactorRequired(Forbidden):
    """403 two_factor: the app demands a second factor, which a bot token cannot give."""

    hint = (
        "a bot token cannot answer two-factor prompts; use a key of an account the app does "
        "not require 2FA from, or run this step by hand with the Heroku CLI"
    )


class Unprocessable(HerokuAPIError):
    """422/400/409/423: Heroku refused the request as it stands; re-sending will not help."""


class RateLimited(HerokuAPIError):
    """429: the account's request budget is spent (shared by every client of the account)."""

    hint = "the account's API budget refills at about 75 requests a minute; retry later"

    def __init__(
        self,
        status: int,
        id: str,
        message: str,
        url: str | None = None,
        request_id: str = "",
        *,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status, id, message, url, request_id, method=method, path=path)


class ServerError(HerokuAPIError):
    """5xx: Heroku failed; for a create the outcome is unknown until looked up."""

    hint = "Heroku-side failure; see https://status.heroku.com"


class HerokuTransportError(HerokuError):
    """No HTTP answer: connection refused, reset or dropped before a response."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{method} {path}: {reason} (check HEROKU_API_URL and the network)")


class HerokuTimeout(HerokuTransportError):
    """No HTTP answer within the client's timeout."""


class CreateOutcomeUnknown(HerokuError):
    """A create failed mid-flight and the follow-up look-up failed too: it may or may not exist."""

    def __init__(self, kind: str, name: str, app: str) -> None:
        self.kind = kind
        self.name = name
        self.app = app
        super().__init__(
            f"could not tell whether {kind} {name!r} was created on {app}; "
            f"check `heroku addons -a {app}` before trying again"
        )


class UnexpectedResponse(HerokuError):
    """A successful response whose body lacks what we rely on (field names only, no values)."""

    def __init__(self, method: str, path: str, problem: str) -> None:
        self.method = method
        self.path = path
        super().__init__(f"{method} {path}: unexpected response body: {problem}")


_BY_STATUS: dict[int, type[HerokuAPIError]] = {
    400: Unprocessable,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Unprocessable,
    422: Unprocessable,
    423: Unprocessable,
    429: RateLimited,
}


def api_error_class(status: int, error_id: str) -> type[HerokuAPIError]:
    """The class for an error status and Heroku error id."""
    if status == 403 and error_id == "two_factor":
        return TwoFactorRequired
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, HerokuAPIError)
