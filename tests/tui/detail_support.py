"""What the detail screen's tests share: an agent that answers `history` and `game_log`
from recorded replies (as the real one does: only rows after the cursor), and an app
on the recorded State with a CartPole game whose screen is open."""

from __future__ import annotations

import copy
from typing import Any

from textual.pilot import Pilot

from controlroom.link.errors import LinkError
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
            raise LinkError("unknown_game", f"no game {args['game']}")
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


def state_with_cartpole(diagnosis: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The recorded State plus a running CartPole (the game the screens open on)."""
    state = recorded_state()
    game = copy.deepcopy(state["games"]["MsPacman"])
    game.update(game="CartPole", env_id="CartPole-v1", diagnosis=diagnosis or [])
    state["games"]["CartPole"] = game
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
    following every hour (the tests poll by hand); returns it after its first poll."""
    await pilot.pause()
    view = pilot.app.query_one(HostView)
    view.load_state(state, where="ssh")
    screen = DetailScreen(
        game, "tnr-0", agent.request, lambda: view.state, interval=3600, clock=lambda: NOW
    )
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


# --- stand-in recorded histories, until controlroom/tui/recorded_history.py (the agent
# side's, recorded from real runs) lands; same names, same reply shape -----------------
T0 = NOW - 1200.0


def _rows(ret: Any, n: int = 120) -> list[list[Any]]:
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
        rows.append([row[c] for c in HISTORY_COLUMNS])
    return rows


def _reply(rows: Any, marks: Any, diagnosis: Any = (), game: str = "CartPole") -> dict[str, Any]:
    from controlroom.protocol import HISTORY_COLUMNS

    return {
        "game": game,
        "run": "main",
        "columns": list(HISTORY_COLUMNS),
        "rows": rows,
        "marks": list(marks),
        "cursor": rows[-1][0] if rows else None,
        "diagnosis": list(diagnosis),
    }


START = {"time": T0, "global_step": 0, "kind": "start", "message": "started"}


def learning_cartpole() -> dict[str, Any]:
    return _reply(_rows(lambda i: 20 + 4 * i), [START])


def flat_run() -> dict[str, Any]:
    flat = "return flat for 100 updates while steps grew by 204,800"
    return _reply(_rows(lambda i: 21 + i % 3), [START], [{"code": "flat", "message": flat}])


def with_restart_and_reboot() -> dict[str, Any]:
    marks = [
        START,
        {"time": T0 + 400, "global_step": 81920, "kind": "restart", "message": "exit 1"},
        {"time": T0 + 805, "global_step": None, "kind": "reboot", "message": "down 3m"},
        {"time": T0 + 900, "global_step": 184320, "kind": "resume", "message": "from 180,224"},
    ]
    return _reply(_rows(lambda i: 20 + 3 * i - (40 if 40 <= i < 50 else 0)), marks)
