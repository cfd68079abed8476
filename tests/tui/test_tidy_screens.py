"""Truthful numbers and tidy screens (issue 11, 5 and 6), on the recorded State with time
frozen: keys shown as typed, read-only hides what it refuses, no live rates on a game
that is not running, no doubled names, wrapping modals, toasts clear of the newest
events, a timeline whose title and axis agree, a header within 120 columns with the link
lost, a plan whose rows say what they cover, and the picker offering the agent's games."""

from __future__ import annotations

import asyncio
import copy
import itertools
import sys
from typing import Any

import msgspec
from rich.console import Console
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Label, RichLog
from textual.widgets._footer import FooterKey, FooterLabel
from textual.widgets._toast import Toast

from controlroom import protocol
from controlroom.config import Config, loads, starter_text
from controlroom.games import known_names
from controlroom.link.errors import LinkError
from controlroom.link.session import AgentSession
from controlroom.tui import key_requests
from controlroom.tui.app import HOST_CHANGING_ACTIONS, NEED_AGENT, ControlRoomApp, build_app
from controlroom.tui.cli import _config, _still_training_note
from controlroom.tui.messages import AgentEvent, LinkDown
from controlroom.tui.plan_view import render_plan
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.screens.modals import ConfirmScreen, PickScreen, TextScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.event_log import EventLog, render_event
from controlroom.tui.widgets.game_pane import GamePane
from controlroom.tui.widgets.header import HostHeader
from controlroom.tui.widgets.host_view import HostView
from controlroom.tui.widgets.timeline import RebootTimeline
from tests.link.realagent import wait_for
from tests.tui.test_live import footer

SIZE = (120, 40)


async def _never() -> AgentSession:
    raise LinkError("lost", "recorded")


def recorded_app(
    *, readonly: bool = False, live: bool = False, config_text: str = ""
) -> ControlRoomApp:
    return build_app(
        [HostTarget("tnr-0", _never)],
        config=loads(config_text),
        readonly=readonly,
        clock=lambda: NOW,
        live=live,
    )


def lines_of(log: RichLog) -> list[str]:
    return ["".join(seg.text for seg in strip) for strip in log.lines]


async def test_help_spells_keys_as_typed() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, TextScreen)
        shown = "\n".join(lines_of(app.screen.query_one("#text", RichLog)))
        keys = [line.split()[0] for line in app.help_lines()]
        assert "+" in keys and "-" in keys and "?" in keys, keys
        assert "plus" not in shown and "question_mark" not in shown and "minus" not in shown
        assert "↑/k" in shown  # the selection keys are listed too


async def test_readonly_hides_the_keys_it_refuses_in_footer_and_help() -> None:
    app = recorded_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(HostView).load_state(recorded_state())
        await pilot.pause()
        described = {d for _, d in footer(app)}
        for refused in ("Add", "Remove", "+Envs", "-Envs", "Stop/Start", "Profile", "Ramp"):
            assert refused not in described, refused
            assert not any(f" {refused} " in line for line in app.help_lines()), refused
        assert {"Log", "Plan", "Help", "Quit"} <= described
        await pilot.press("a")  # hidden, and still refused out loud
        await pilot.pause()
        assert any("read-only" in n.message for n in app._notifications)


def footer_laid_out(app: ControlRoomApp) -> bool:
    """Every footer key has its place (a recomposed footer's keys have none at first)."""
    keys = list(app.screen.query(FooterKey))
    return bool(keys) and all(k.region.width > 0 for k in keys)


def assert_footer_fits(app: ControlRoomApp) -> None:
    """Every footer key lies whole inside the screen's width, none over another."""
    regions = sorted((k.region for k in app.screen.query(FooterKey)), key=lambda r: r.x)
    assert regions and all(r.width > 0 and r.right <= app.size.width for r in regions), regions
    assert all(a.right <= b.x for a, b in itertools.pairwise(regions)), regions


async def test_every_key_is_in_the_footer_at_120_columns_and_in_the_help() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(HostView).load_state(recorded_state())
        await pilot.pause()
        await wait_for(lambda: footer_laid_out(app), what="the footer laid out")
        shown = footer(app)
        assert_footer_fits(app)
        assert ("g", "GPUs") in shown and ("m", "Compare") in shown and ("q", "Quit") in shown
        assert ("+", "") in shown and ("-", "") in shown  # one label for both: "+- Envs"
        assert "Envs" in {str(label.render()) for label in app.screen.query(FooterLabel)}
        offered = {a for a in HOST_CHANGING_ACTIONS | NEED_AGENT if a not in ("install",)}
        keys = {k for k, _ in shown}
        help_text = "\n".join(app.help_lines())
        for b in app.BINDINGS:
            assert isinstance(b, Binding)
            assert f" {b.description} " in help_text, b.description
            if b.action in offered or b.action in ("help", "quit", "show_detail"):
                assert app.get_key_display(b) in keys, b.action


async def test_retry_key_shows_while_the_link_is_down_and_cuts_the_wait() -> None:
    tries: list[float] = []
    long_wait = asyncio.Event()  # the link starts with the first try: hold it till then

    async def refused() -> AgentSession:
        tries.append(NOW)
        await long_wait.wait()
        raise LinkError("refused", "tnr-0 refused the connection")

    app = build_app([HostTarget("tnr-0", refused)], clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        view.link.backoff.initial = view.link.backoff.cap = 60.0  # the wait after each try
        long_wait.set()
        await wait_for(lambda: ("c", "Retry") in footer(app), what="the retry key")
        assert view.status.down_since is not None and view.status.retry_in == 60.0
        assert len(tries) == 1
        await wait_for(lambda: footer_laid_out(app), what="the footer laid out again")
        assert_footer_fits(app)  # the widest footer: every key and the retry key
        await pilot.press("c")
        await wait_for(lambda: len(tries) == 2, timeout=10, what="a try at once, not in 60 s")
    up = recorded_app()
    async with up.run_test(size=SIZE) as pilot:
        up.query_one(HostView).load_state(recorded_state())
        await pilot.pause()
        assert "Retry" not in {d for _, d in footer(up)}


async def test_a_game_that_is_not_running_shows_no_live_rates() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        state = recorded_state()
        for name, st in (("Pong", "stopped"), ("MsPacman", "paused"), ("Breakout", "done")):
            state["games"][name]["state"] = st
        app.query_one(HostView).load_state(state)
        await pilot.pause()
        for pane in app.query(GamePane):
            text = pane.render()
            assert isinstance(text, Content)
            rate_line = text.plain.splitlines()[1]
            assert rate_line.startswith("last: "), rate_line
            at = text.plain.index(rate_line)
            styles = [str(span.style) for span in text.spans if span.start <= at < span.end]
            assert any("dim" in style for style in styles), (pane.game, styles)
        state = copy.deepcopy(state)
        state["games"]["Pong"]["state"] = "running"
        app.query_one(HostView).load_state(state)
        await pilot.pause()
        assert (
            str(app.query_one("#game-Pong", GamePane).render())
            .splitlines()[1]
            .startswith("402 eps/h")
        )


def test_events_do_not_say_the_game_twice() -> None:
    scaled = protocol.Event(
        ts=NOW, kind="game_scaled", game="Breakout", message="Breakout: num_envs 8 -> 16"
    )
    added = protocol.Event(ts=NOW, kind="game_added", game="Pong", message="Pong added")
    resumed = protocol.Event(ts=NOW, kind="restart", game="Pong", message="resumed at ep 3")
    assert "Breakout: Breakout" not in render_event(scaled).plain
    assert "Breakout: num_envs 8 -> 16" in render_event(scaled).plain
    assert "Pong: Pong" not in render_event(added).plain
    assert "Pong: resumed at ep 3" in render_event(resumed).plain


async def test_notices_do_not_say_the_host_or_game_twice() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        view.load_state(recorded_state())
        view.post_message(
            AgentEvent(
                "tnr-0",
                protocol.Event(
                    ts=NOW,
                    kind="crash",
                    game="Breakout",
                    message="Breakout: exit code 1",
                ),
            )
        )
        await pilot.pause()
        await pilot.press("s")  # no link: the request fails with "tnr-0: link down ..."
        await app.workers.wait_for_complete()
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("Breakout: exit code 1" in m for m in messages), messages
        assert any("link down" in m for m in messages), messages
        assert not any("tnr-0: tnr-0" in m or "Breakout: Breakout" in m for m in messages)


async def test_modal_text_wraps() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        long = "Stop MsPacman on tnr-0 and remove it? " + "its checkpoints stay " * 8 + "END"
        app.push_screen(ConfirmScreen(long))
        await pilot.pause()
        label = app.screen.query_one("#question", Label)
        dialog = app.screen.query_one(".dialog")
        assert label.region.right <= dialog.region.right
        assert label.region.height >= 3  # wrapped over lines, not cut at the edge


async def test_toasts_leave_the_newest_events_in_view() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        app.query_one(HostView).load_state(recorded_state())
        for i in range(3):
            app.notify(f"notice {i}", timeout=30)
        await pilot.pause()
        events = app.query_one(EventLog).region
        toasts = list(app.screen.query(Toast))
        assert toasts
        for toast in toasts:
            assert not toast.region.overlaps(events), (toast.region, events)


async def test_timeline_title_and_axis_name_the_same_span() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(HostView).load_state(recorded_state())
        await pilot.pause()
        timeline = app.query_one(RebootTimeline)
        title = str(timeline.border_title)
        axis = str(timeline.render()).splitlines()[0].split()[0]  # "-5h 15m" -> "-5h"
        assert title.startswith("Reboots · last "), title
        span = title.removeprefix("Reboots · last ")
        assert span != "24h" and f"-{span}" in str(timeline.render()).splitlines()[0], (title, axis)


async def test_header_fits_120_columns_with_the_link_lost() -> None:
    app = recorded_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        view.load_state(recorded_state())
        reason = (
            "tnr-0: connection timed out after 30s while exchanging keys through the "
            "jump host bastion-eu-west-1"
        )
        view.post_message(LinkDown("tnr-0", NOW - 42, reason, "timeout", 4, 8.0))
        await pilot.pause()
        header = app.query_one(HostHeader)
        text = header.render()
        plain = str(text)
        assert len(plain) <= 120 and "\n" not in plain, plain
        for part in ("link lost", "retry #4 in 8s", "data", "old", "READ-ONLY"):
            assert part in plain, (part, plain)
        assert "tnr-0: tnr-0" not in plain and "tnr-0  ○ link lost 42s ago: connection" in plain


def _plan() -> dict[str, Any]:
    costing = {
        "hours": 60.2,
        "days": 2.5,
        "cost": 72.2,
        "downtime_share": 0.17,
        "effective_days": 3.0,
        "effective_cost": 87.0,
    }
    return {
        "host": {
            "games": [
                {
                    "game": "Pong",
                    "episodes": 812,
                    "target": 25000,
                    "episodes_per_hour": 402.0,
                    "estimated": False,
                    "hours_to_target": 60.2,
                    "queued": False,
                }
            ],
            "price_per_hour": 1.2,
            "downtime_share": 0.17,
            "parallel": costing,
            "with_queue": costing,
        },
        "profiles": [
            {
                "profile": name,
                "games": n,
                "num_envs": envs,
                "minibatch_size": 2048,
                "total_envs": n * envs,
                "measured_games": 1,
                "episodes_per_hour": 12345.0,
                "gpu_memory_used": 32_000_000_000,
                "hours": 4000.0,
                "days": 166.7,
                "cost": 48000.0,
                "downtime_share": 0.171,
                "downtime_measured": False,
                "effective_days": 201.1,
                "effective_cost": 57800.0,
            }
            for name, n, envs in (
                ("light", 2, 32),
                ("medium", 4, 64),
                ("heavy", 8, 256),
                ("cpu", 1, 8),
            )
        ],
        "downtime_share": 0.17,
        "boots": 4,
    }


def test_plan_rows_say_what_they_cover_and_columns_fit() -> None:
    console = Console(width=100, record=True, color_system=None)  # the dialog at 120x40
    console.print(render_plan(msgspec.convert(_plan(), protocol.Plan)))
    text = console.export_text()
    assert "…" not in text, text  # no column cut
    assert "one game" in text and "(1 at once)" in text and "(Pong)" in text
    assert "ALL the work" in text and "at once" in text and "not comparable" in text
    row = next(ln for ln in text.splitlines() if ln.startswith("cpu"))
    assert "$57,800" in row or "$57800" in row.replace(",", ""), row


def test_picker_offers_the_agents_catalogue() -> None:
    config = _config_built_in()
    state = protocol.as_state(recorded_state())
    state.catalogue = ["Pong", "Breakout", "MsPacman", "Qbert", "CartPole"]
    names = [name for name, _ in key_requests.game_choices(config, state)]
    assert names == ["Qbert", "CartPole"]  # the wanted ones left out
    state.catalogue = []
    assert [n for n, _ in key_requests.game_choices(config, state)] == [
        n for n in known_names() if n not in state.games
    ]


async def test_the_add_key_labels_games_with_what_the_agent_starts() -> None:
    app = recorded_app(config_text="[trainer]\nnum_envs = 64\n[games.Qbert]\nnum_envs = 128\n")
    async with app.run_test(size=SIZE) as pilot:
        state = recorded_state()
        state["catalogue"] = ["Pong", "Qbert", "Seaquest", "Freeway"]
        state["game_defaults"] = {
            "Qbert": {"num_envs": 4, "num_steps": 16, "minibatch_size": 32, "target_episodes": 9},
        }  # Seaquest's left out: what an older agent does for all
        state["games"]["Freeway"] = {
            **copy.deepcopy(state["games"]["Pong"]),
            "game": "Freeway",
            "wanted": False,
            "state": "stopped",
            "settings": {"num_envs": 2, "num_steps": 16, "minibatch_size": 8},
            "target_episodes": 50,
        }
        app.query_one(HostView).load_state(state)
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PickScreen)
        labels = dict(picker.choices)
        assert list(labels) == ["Qbert", "Seaquest", "Freeway"]  # Pong is wanted
        assert "4 envs · mb 32 · target 9" in labels["Qbert"]  # the agent's, not 128
        assert "64 envs" in labels["Seaquest"]  # none sent: the laptop config's
        assert "2 envs · mb 8 · target 50" in labels["Freeway"]  # its own, kept by the agent


def _config_built_in() -> Config:
    """What the TUI uses with no laptop config (it has [games] of its own)."""
    return loads(starter_text(), key_requests.BUILT_IN_SOURCE)


def test_no_laptop_config_uses_the_built_in_defaults(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CONTROLROOM_CONFIG", raising=False)
    config, path = _config(None)
    assert path is None
    assert {"light", "medium", "heavy", "cpu"} <= set(config.profiles)
    assert [n for n, _ in key_requests.profile_choices(config)][:3] == ["light", "medium", "heavy"]


def test_exit_note_works_without_the_venv_on_path() -> None:
    note = _still_training_note("/tmp/x y")
    assert f"{sys.executable} -m controlroom agent shutdown --stop-trainers" in note
    assert "--state-dir '/tmp/x y'" in note
