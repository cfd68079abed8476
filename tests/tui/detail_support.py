"""What the detail screen's tests share: an agent that answers `history` and `game_log`
from recorded replies (as the real one does: only rows after the cursor), and an app
on the recorded State with a CartPole game whose screen is open."""

from __future__ import annotations

import copy
from typing import Any

from textual.pilot import Pilot

from controlroom.link.errors import LinkError, RequestFailed
from controlroom.link.session import AgentSession
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.screens.detail import DetailScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.host_view import HostView
from controlroom.tui.widgets.plots import MetricPlot

SIZE = (120, 40)


class RecordedAgent:
    """Answers the screen's requests from recorded `history` replies, by (game, run)."""

    def __init__(self, replies: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.replies = replies
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.log = ["\x1b[32mupdate 1\x1b[0m sps 1500", "update 2 sps 1510"]

    async def request(self, op: str, **args: Any) -> Any:
        self.calls.append((op, args))
        if op == "game_log":
            return {"lines": list(self.log)}
        reply = self.replies.get((args["game"], args.get("run", "main")))
        if reply is None:
            raise RequestFailed("unknown_game", f"no game {args['game']}")
        after = args.get("after")
        if after is None or not isinstance(reply.get("rows"), list):
            return copy.deepcopy(reply)
        return {
            **copy.deepcopy(reply),
            "rows": [r for r in reply["rows"] if r[0] > after],
            "marks": [m for m in reply["marks"] if m["time"] > after],
        }

    def history_calls(self) -> list[dict[str, Any]]:
        return [args for op, args in self.calls if op == "history"]


def state_with_cartpole(diagnosis: dict[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """The recorded State plus a running CartPole (the game most screens open on), each
    game's diagnosis as given (none by default)."""
    state = recorded_state()
    game = copy.deepcopy(state["games"]["MsPacman"])
    game.update(game="CartPole", env_id="CartPole-v1")
    state["games"]["CartPole"] = game
    for name, reasons in (diagnosis or {}).items():
        state["games"][name]["diagnosis"] = reasons
    return state


async def _never() -> AgentSession:
    raise LinkError("lost", "recorded")


def recorded_app() -> ControlRoomApp:
    """The app on one recorded host (no link), its clock frozen at the recording's."""
    return build_app([HostTarget("tnr-0", _never)], clock=lambda: NOW, live=False)


async def open_detail(
    pilot: Pilot[Any], agent: RecordedAgent, state: dict[str, Any], game: str = "CartPole"
) -> DetailScreen:
    """Load `state` into the host view and open `game`'s detail screen on `agent`,
    following every hour (the tests poll by hand, each poll drawing at once); returns it
    after its first poll."""
    await pilot.pause()
    view = pilot.app.query_one(HostView)
    view.load_state(state, where="ssh")
    screen = DetailScreen(
        game, "tnr-0", agent.request, lambda: view.state, interval=3600, clock=lambda: NOW
    )
    screen.draw_every = 0.0  # every poll by hand draws at once
    await pilot.app.push_screen(screen)
    for _ in range(100):
        if screen.polls:
            break
        await pilot.pause(0.02)
    await pilot.pause()
    return screen


def plot(screen: DetailScreen, column: str) -> MetricPlot:
    return screen.query_one(f"#plot-{column}", MetricPlot)


def labels(screen: DetailScreen, column: str) -> list[str]:
    return [t.label for t in plot(screen, column).traces]


# --- a synthetic run: exact numbers for the mechanics (the cursor, overlays, trials, the
# cap); the recorded real runs are controlroom/tui/recorded_history.py ----------------------
T0 = NOW - 1200.0


def synthetic(ret: Any = lambda i: 20 + 4 * i, n: int = 120) -> dict[str, Any]:
    """A CartPole `history` reply: a row every 10 s and 2,048 steps from T0, return
    `ret(row)` with a band of +-5, a start mark, nothing wrong."""
    from controlroom.protocol import HISTORY_COLUMNS

    rows = []
    for i in range(n):
        r = float(ret(i))
        row = {
            "time": T0 + 10 * i,
            "global_step": 2048 * i,
            "return_mean": r,
            "return_min": r - 5,
            "return_max": r + 5,
            "length_mean": r,
            "episodes_per_hour": 9000.0 + 10 * i,
            "sps": 1500.0 + (i % 7) * 10,
            "policy_loss": -0.01 + 0.004 * (i % 5),
            "value_loss": 30.0 / (1 + i),
            "entropy": 0.69 - 0.002 * i,
            "approx_kl": 0.01 + 0.001 * (i % 3),
            "clip_fraction": 0.1,
            "learning_rate": 2.5e-4 * (1 - i / 240),
        }
        rows.append([row.get(c) for c in HISTORY_COLUMNS])  # no evaluation rows
    return {
        "game": "CartPole",
        "run": "main",
        "columns": list(HISTORY_COLUMNS),
        "rows": rows,
        "marks": [{"time": T0, "global_step": 0, "kind": "start", "message": "started"}],
        "cursor": rows[-1][0],
        "diagnosis": [],
    }


def with_trial(mode: str, **extra: Any) -> dict[str, Any]:
    """The State with a finished trial of CartPole in `mode` from T0+800 s to T0+1000 s
    (the synthetic run's rows 80 to 100), its figures compared, no decision yet."""
    state = state_with_cartpole()
    state["policy"]["trials"]["CartPole"] = {
        "game": "CartPole",
        "mode": mode,
        "status": "finished",
        "decision": None,
        "started_at": T0 + 800,
        "ends_at": T0 + 1000,
        "ended_at": T0 + 1000,
        "comparison": [
            {"figure": "episodes_per_hour", "current": 9000.0, "trial": 9900.0},
            {"figure": "sps", "current": 1500.0, "trial": 1800.0},
        ],
        **extra,
    }
    return state


def candidate() -> dict[str, Any]:
    """A beside trial's own run: from the game's checkpoint at row 80, twice the steps a
    row, its return from 500 up."""
    run = synthetic()
    run["run"] = "trial"
    run["rows"] = [
        [T0 + 800 + 10 * i, 163840.0 + 4096 * i, 500.0 + i, *r[3:]]
        for i, r in enumerate(run["rows"][:21])
    ]
    return run
