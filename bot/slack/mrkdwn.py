"""Slack mrkdwn: escape what came from outside, cut without breaking an entity (pure).

In mrkdwn `&`, `<` and `>` are control characters: `<!channel>` pings a channel, `<@U1>`
mentions a person, `<https://x|y>` plants a link. Every text that came from outside (Heroku's
messages, names, what a user typed) goes through `escape` before it joins a message; the bot's
own mentions (`<@U…>`, `<#C…>`) are added around escaped text, never inside it.
"""

from __future__ import annotations

import re

# The only entities the bot itself writes: user and channel references it built from ids.
_OWN_ENTITY = re.compile(r"<[@#][UWBC][A-Z0-9]{2,}>")
_REFERENCE = re.compile(r"<[^<>]*>")
_ENTITY_OR_REFERENCE = re.compile(r"&(?:amp|lt|gt);|<[^<>]*>")
_ELLIPSIS = "…"


def escape(text: object) -> str:
    """`text` made inert for mrkdwn: `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def neutralize(text: str) -> str:
    """A last guard at the edge: any `<…>` the bot did not write itself is made inert.

    Stored texts are escaped when they are built; this catches one that was not, so that no
    broadcast (`<!channel>`), link or foreign mention can ever reach the channel. `&` is left
    alone: the text is mrkdwn already, and `&amp;` must not become `&amp;amp;`.
    """
    if "<" not in text and ">" not in text:
        return text
    parts: list[str] = []
    last = 0
    for match in _REFERENCE.finditer(text):
        parts.append(_angles(text[last : match.start()]))
        token = match.group(0)
        parts.append(token if _OWN_ENTITY.fullmatch(token) else _angles(token))
        last = match.end()
    parts.append(_angles(text[last:]))
    return "".join(parts)


def _angles(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "…" when cut, never inside `&amp;` or `<@U1>`."""
    if len(text) <= limit:
        return text
    end = max(0, limit - len(_ELLIPSIS))
    for match in _ENTITY_OR_REFERENCE.finditer(text, max(0, end - 200)):
        if match.start() < end < match.end():
            end = match.start()
            break
    return text[:end] + _ELLIPSIS
