"""SVG snapshots of the main screens at 120x40, from the recorded State with time frozen."""

from __future__ import annotations

import os
import time
from typing import Any

from textual.pilot import Pilot

from controlroom.config import loads
from controlroom.link.errors import NO_AGENT, LinkError
from controlroom.link.session import AgentSession
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.messages import LinkDown
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.target import HostTarget, Progress
from controlroom.tui.widgets.host_view import HostView

os.environ["TZ"] = "UTC"
time.tzset()
SIZE = (120, 40)
CONFIG = loads('[games.Pong]\n[games.MsPacman]\n[games.Breakout]\n[keymap]\nadd_game = "a"\n')


async def _never() -> AgentSession:
    raise LinkError("lost", "recorded")


def app_for(*names: str, readonly: bool = False) -> ControlRoomApp:
    targets = [HostTarget(n, _never) for n in names]
    return build_app(targets, config=CONFIG, readonly=readonly, clock=lambda: NOW, live=False)


async def load_all(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    for view in pilot.app.query(HostView):
        view.load_state(recorded_state(), where="ssh")
    await pilot.pause()


def test_main_screen(snap_compare: Any) -> None:
    assert snap_compare(app_for("tnr-0"), terminal_size=SIZE, run_before=load_all)


def test_stale_link(snap_compare: Any) -> None:
    async def drop(pilot: Pilot[Any]) -> None:
        await load_all(pilot)
        view = pilot.app.query_one(HostView)
        view.post_message(
            LinkDown("tnr-0", NOW - 42, "tnr-0 refused the connection", "refused", 4, 8.0)
        )
        await pilot.pause()

    assert snap_compare(app_for("tnr-0", readonly=True), terminal_size=SIZE, run_before=drop)


def test_no_agent(snap_compare: Any) -> None:
    async def no_agent(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        reason = "no controlroom agent on tnr-0 (~/.controlroom/venv/bin/controlroom not found)"
        pilot.app.query_one(HostView).post_message(
            LinkDown("tnr-0", NOW - 3, reason, NO_AGENT, 2, 4.0)
        )
        await pilot.pause()
        await pilot.press("n")  # the offer's modal: not now
        await pilot.pause()

    async def installer(progress: Progress) -> None:
        raise AssertionError("not in a snapshot")

    app = build_app(
        [HostTarget("tnr-0", _never, install=installer)],
        config=CONFIG,
        clock=lambda: NOW,
        live=False,
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=no_agent)


def test_fleet_overview(snap_compare: Any) -> None:
    assert snap_compare(app_for("tnr-0", "tnr-1"), terminal_size=SIZE, run_before=load_all)


def test_help(snap_compare: Any) -> None:
    async def help_(pilot: Pilot[Any]) -> None:
        await load_all(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app_for("tnr-0"), terminal_size=SIZE, run_before=help_)
