"""List paging by `Range` header, as the Platform API does it.

`Range: <field> [start]..[end][; max=<n>[, order=asc|desc]]`. A start written `]value` is
exclusive, which is how `Next-Range` continues after the last item of a page. Bounds are
in iteration order, so with `order=desc` the start is the high end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sandbox.heroku.world import ApiError

T = TypeVar("T")
Key = str | int
MAX_PAGE = 1000

_RANGE = re.compile(
    r"^\s*(?P<field>[a-z_]+)\s+(?P<start>\]?[^.;\s]*)\s*\.\.\s*(?P<end>[^;\s]*)\s*(?:;(?P<params>.*))?$"
)


@dataclass(frozen=True, slots=True)
class Range:
    field: str
    start: Key | None
    start_exclusive: bool
    end: Key | None
    max: int
    descending: bool

    def header(self, start: Key | None, *, exclusive: bool) -> str:
        text = f"{self.field} {']' if exclusive else ''}{'' if start is None else start}.."
        text += "" if self.end is None else str(self.end)
        text += f"; max={self.max}"
        return text + (", order=desc" if self.descending else "")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    partial: bool
    next_range: str | None
    content_range: str | None


def _bad_range(detail: str) -> ApiError:
    return ApiError(400, "bad_request", f"Invalid Range header: {detail}.")


def parse_range(
    header: str | None, *, fields: Mapping[str, Callable[[T], Key]], page_size: int
) -> Range:
    """Parse a Range header; without one, the first field ascending with the default page size."""
    default_field = next(iter(fields))
    if header is None or not header.strip():
        return Range(default_field, None, False, None, page_size, False)
    match = _RANGE.match(header)
    if match is None:
        raise _bad_range("expected '<field> [start]..[end][; max=<n>[, order=asc|desc]]'")
    field = match["field"]
    if field not in fields:
        raise _bad_range(f"this list ranges over {', '.join(fields)}, not {field}")
    size, descending = page_size, False
    for raw in re.split(r"[,;]", match["params"] or ""):
        if not raw.strip():
            continue
        name, _, value = raw.strip().partition("=")
        if name == "max" and value.isdigit() and int(value) > 0:
            size = min(int(value), MAX_PAGE)
        elif name == "order" and value in ("asc", "desc"):
            descending = value == "desc"
        else:
            raise _bad_range(f"unknown parameter {raw.strip()!r}")
    start_text = match["start"]
    exclusive = start_text.startswith("]")
    start = _bound(field, start_text.removeprefix("]"))
    return Range(field, start, exclusive, _bound(field, match["end"]), size, descending)


def _bound(field: str, text: str) -> Key | None:
    if not text:
        return None
    if field == "version":
        if not text.isdigit():
            raise _bad_range(f"version bounds are integers, not {text!r}")
        return int(text)
    return text


def paginate(items: Sequence[T], rng: Range, key: Callable[[T], Key]) -> Page[T]:
    """One page of `items` ordered by the range field, and the Next-Range to the rest."""
    ordered = sorted(items, key=key, reverse=rng.descending)

    def after_start(value: Key) -> bool:
        if rng.start is None:
            return True
        if rng.descending:
            return value < rng.start if rng.start_exclusive else value <= rng.start  # type: ignore[operator]
        return value > rng.start if rng.start_exclusive else value >= rng.start  # type: ignore[operator]

    def before_end(value: Key) -> bool:
        if rng.end is None:
            return True
        return value >= rng.end if rng.descending else value <= rng.end  # type: ignore[operator]

    selected = [item for item in ordered if after_start(key(item)) and before_end(key(item))]
    page = selected[: rng.max]
    partial = len(selected) > len(page)
    next_range = rng.header(key(page[-1]), exclusive=True) if partial else None
    content_range = f"{rng.field} {key(page[0])}..{key(page[-1])}" if page else None
    return Page(page, partial, next_range, content_range)
