"""The event log's columns: every kind the protocol knows fits, so messages align."""

from __future__ import annotations

from controlroom.protocol import EVENT_KINDS, Event
from controlroom.tui.widgets.event_log import KIND_WIDTH, render_event


def _line(kind: str) -> str:
    return render_event(Event(ts=0.0, kind=kind, game="Pong", message="hello")).plain


def test_every_kind_leaves_a_gap_and_messages_align() -> None:
    starts = set()
    for kind in EVENT_KINDS:
        line = _line(kind)
        start = line.index("Pong: hello")
        assert line[start - 2 : start] == "  ", line  # never runs into the message
        assert kind in line, line
        starts.add(start)
    assert len(starts) == 1, starts


def test_an_unknown_longer_kind_is_cut_with_an_ellipsis() -> None:
    line = _line("x" * (KIND_WIDTH + 5))
    assert "x" * (KIND_WIDTH - 1) + "…  Pong: hello" in line
    assert line.index("Pong: hello") == _line("crash").index("Pong: hello")
