"""Contracts of mrkdwn escaping: outside text can never ping, mention or link (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.mrkdwn import cut, escape, neutralize


def test_a_broadcast_in_outside_text_is_escaped_into_plain_text() -> None:
    assert escape("Deploy <!channel> & <https://evil.example|click>") == (
        "Deploy &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"
    )


def test_the_edge_guard_keeps_the_bots_own_mentions_and_disarms_everything_else() -> None:
    text = "<@U0ALICE> approved in <#C0OPS>; <!here> <@U0EVIL|x> <mailto:a@b.c|mail> 1 > 0"
    assert neutralize(text) == (
        "<@U0ALICE> approved in <#C0OPS>; &lt;!here&gt; &lt;@U0EVIL|x&gt; "
        "&lt;mailto:a@b.c|mail&gt; 1 &gt; 0"
    )


def test_the_edge_guard_leaves_escaped_text_as_it_is() -> None:
    assert neutralize(escape("a & b <!channel>")) == "a &amp; b &lt;!channel&gt;"


def test_cutting_never_splits_an_entity_or_a_mention() -> None:
    assert cut("x" * 8 + "&amp;tail", 12) == "x" * 8 + "…"
    assert cut("hi <@U0ALICE> there", 9) == "hi …"
    assert cut("short", 10) == "short"


@given(st.text(alphabet=st.sampled_from("ab&<>!@ "), max_size=80), st.integers(1, 90))
def test_escaped_and_cut_text_has_no_raw_entity_and_fits(raw: str, limit: int) -> None:
    shown = cut(escape(raw), limit)
    assert len(shown) <= max(limit, 1)
    assert "<" not in shown and ">" not in shown
    # Every & starts a whole entity: none was cut in half.
    body = shown.removesuffix("…")
    for i, ch in enumerate(body):
        if ch == "&":
            assert any(body.startswith(e, i) for e in ("&amp;", "&lt;", "&gt;")), body
