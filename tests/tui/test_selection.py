"""Keys that find a game: one pane is selected and marked from the first State, the arrow
keys and h/j/k move the selection between panes, and it stays on its game through
updates, scaling and restarts; a removed game hands it to its neighbour."""

from __future__ import annotations

import copy
from typing import Any

from controlroom.link.errors import LinkError
from controlroom.link.session import AgentSession
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.game_pane import GamePane
from controlroom.tui.widgets.host_view import HostView

SIZE = (120, 40)


async def _never() -> AgentSession:
    raise LinkError("lost", "recorded")


def recorded_app() -> ControlRoomApp:
    return build_app([HostTarget("tnr-0", _never)], clock=lambda: NOW, live=False)


def five_games() -> dict[str, Any]:
    """The recorded State with five games: two rows of panes (three columns)."""
    state = recorded_state()
    games = state["games"]
    for name in ("Qbert", "Seaquest"):
        games[name] = {**copy.deepcopy(games["MsPacman"]), "game": name}
    return state


def marked(app: ControlRoomApp) -> list[str]:
    return [p.game for p in app.query(GamePane) if p.has_class("-selected")]


def selected(app: ControlRoomApp) -> str | None:
    return app.query_one(HostView).selected_game()


async def test_first_game_is_selected_and_marked_from_the_first_state() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(HostView).load_state(recorded_state())
        await pilot.pause()
        assert marked(app) == ["Breakout"] and selected(app) == "Breakout"
        pane = app.query_one("#game-Breakout", GamePane)
        assert pane.styles.border_top[0] == "heavy"  # visibly, not only a class
        assert app.query_one("#game-Pong", GamePane).styles.border_top[0] != "heavy"


async def test_arrow_keys_and_hjk_move_between_panes() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(HostView).load_state(five_games())
        await pilot.pause()
        # Panes in name order, three a row: Breakout MsPacman Pong / Qbert Seaquest
        steps = [
            ("right", "MsPacman"),
            ("right", "Pong"),
            ("right", "Pong"),
            ("down", "Seaquest"),
            ("h", "Qbert"),
            ("left", "Qbert"),
            ("k", "Breakout"),
            ("up", "Breakout"),
            ("j", "Qbert"),
            ("right", "Seaquest"),
            ("down", "Seaquest"),
            ("up", "MsPacman"),
        ]
        for key, expected in steps:
            await pilot.press(key)
            assert selected(app) == expected, key
            assert marked(app) == [expected], key


async def test_selection_survives_updates_scaling_and_restarts() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        state = recorded_state()
        view.load_state(state)
        await pilot.pause()
        await pilot.press("right", "right")
        assert selected(app) == "Pong"
        pong = state["games"]["Pong"]
        for change in (
            {"settings": {**pong["settings"], "num_envs": 64}, "state": "starting"},
            {"state": "running", "restarts": 4, "pid": 999},
            {"state": "crashed"},
        ):
            state = copy.deepcopy(state)
            state["games"]["Pong"].update(change)
            view.load_state(state)
            await pilot.pause()
            assert selected(app) == "Pong" and marked(app) == ["Pong"], change
        await pilot.press("s")  # the action keys apply to it (no link: a notice, no crash)
        await pilot.pause()
        assert selected(app) == "Pong"


async def test_a_removed_game_hands_the_selection_to_its_neighbour() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        state = five_games()
        view.load_state(state)
        await pilot.pause()
        await pilot.press("right")
        assert selected(app) == "MsPacman"
        for gone, expected in (
            ("MsPacman", "Pong"),
            ("Seaquest", "Pong"),
            ("Pong", "Qbert"),
            ("Qbert", "Breakout"),
            ("Breakout", None),
        ):
            state = copy.deepcopy(state)
            del state["games"][gone]
            view.load_state(state)
            await pilot.pause()
            assert selected(app) == expected, gone
            assert marked(app) == ([expected] if expected else []), gone
