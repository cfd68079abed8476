"""The tune screen from a recorded TuneState (no agent at hand): `u` on a game with a
tune opens it, its table has every rung with its verdict and the chosen one starred, the
plots draw steps/s and eps/h against the ladder's envs with memory on a second axis,
the outcome says the days and cost before and after, and `a` is refused while the tune
runs; `u` on a game without one asks how long first (the config's default first). The
live path (a real agent tuning a stand-in trainer) is in test_tune_live.py."""

from __future__ import annotations

import copy
import io
from typing import Any

import msgspec
import pytest
from rich.console import Console

from controlroom import protocol
from controlroom.tui import tune_view
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.screens.modals import PickScreen
from controlroom.tui.screens.tune import TuneScreen
from controlroom.tui.widgets.game_pane import GameGrid, render_game
from controlroom.tui.widgets.host_view import HostView
from controlroom.tui.widgets.tune_plot import TunePlot
from tests.tui.test_snapshots import SIZE, app_for

GIB = 1 << 30


def rung(
    envs: int, verdict: str, sps: float | None, eph: float | None, **kw: Any
) -> dict[str, Any]:
    return {
        "num_envs": envs,
        "minibatch_size": envs * 32,
        "threads": None,
        "ran_threads": "1+1" if sps else None,
        "verdict": verdict,
        "steps_per_s": sps,
        "game_steps_per_s": sps and sps * 0.8,
        "eps_per_h": eph,
        "rss": int((1 + envs / 16) * GIB) if sps else None,
        **kw,
    }


def recorded_tune(status: str = "finished") -> dict[str, Any]:
    """A finished ladder of MsPacman: 8 to 64 envs, 32 the best, 64 over the RAM budget,
    then 8 envs again (the recheck), near its first measure: 32 stands."""
    rungs = [
        rung(8, "ok", 900.0, 40.0),
        rung(16, "ok", 1500.0, 66.0),
        rung(32, "ok", 2100.0, 90.0),
        rung(64, "over_budget", None, None, reason="RAM would be 94% (budget 90%)"),
    ]
    return {
        "game": "MsPacman",
        "status": status,
        "minutes": 12.0,
        "rung_s": 150.0,
        "rungs": rungs,
        "current": None if status == "finished" else 2,
        "recheck": rung(8, "ok", 950.0, 41.0, reason="the game's own shape again")
        if status == "finished"
        else None,
        "chosen": rungs[2] if status == "finished" else None,
        "reason": "the next rung would cross the RAM budget",
        "before": {"episodes_per_hour": 40.0, "days": 9.5, "cost": 456.0},
        "after": {"episodes_per_hour": 90.0, "days": 4.2, "cost": 202.0},
        "started_at": NOW - 700,
        "ended_at": NOW - 10 if status == "finished" else None,
    }


def plain(widget: Any) -> str:
    """What a Static shows, as text (a Rich table rendered at the screen's width)."""
    console = Console(width=SIZE[0], record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def state_with(tune: dict[str, Any] | None) -> dict[str, Any]:
    state = copy.deepcopy(recorded_state())
    state["policy"]["tunes"] = {"MsPacman": tune} if tune else {}
    return state


def test_the_view_reads_the_ladder() -> None:
    t = msgspec.convert(recorded_tune(), protocol.TuneState)
    status = tune_view.status_line(t, NOW).plain
    assert status.startswith("MsPacman: tune finished") and "of 12 min" in status
    outcome = tune_view.outcome_lines(t, "a").plain
    assert "chosen: 32 envs, minibatch 1024 · 2,100 steps/s" in outcome
    assert "9.5 d $456 at 40 eps/h before → 4.2 d $202 at 90 eps/h after" in outcome
    assert "a: apply it" in outcome
    left, right = tune_view.rate_traces(t)
    assert [round(2**x) for x in left[0].xs] == [8, 16, 32]  # the unmeasured rung is left out
    assert right[0].ys == pytest.approx([1.5, 2.0, 3.0])  # GiB of host RAM
    # The threads column: what a measured rung's trainer ran with (the agent's share).
    assert [r.threads_label for r in t.rungs] == ["1+1", "1+1", "1+1", None]
    # The recheck is the table's last row, and the status says while it runs.
    assert [envs for envs, _ in t.rows()] == ["8", "16", "32", "64", "8 again"]
    assert t.recheck is not None
    t.recheck.verdict, t.status, t.ended_at = "running", "running", None
    assert "its own shape again: 8 envs" in tune_view.status_line(t, NOW).plain


async def test_u_opens_the_tune_screen_with_table_plots_and_outcome() -> None:
    app = app_for("tnr-0")
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        view.load_state(state_with(recorded_tune()), where="ssh")
        await pilot.pause()
        view.query_one(GameGrid).select("MsPacman")
        await pilot.press("u")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TuneScreen) and screen.shown is not None
        table = plain(screen.query_one("#tune-rungs"))
        for words in ("envs", "minibatch", "threads", "steps/s", "eps/h", "memory", "verdict"):
            assert words in table, words
        assert "ok ★" in table and "over_budget" in table and "RAM would be 94%" in table
        assert "8 again" in table and table.count("★") == 1  # the recheck is never starred
        sps = screen.query_one("#plot-tune-sps", TunePlot)
        assert [t.label for t in sps.traces] == ["host steps/s", "game steps/s"]
        assert [t.label for t in sps.right] == ["memory GiB (right)"]
        drawn = "\n".join("".join(c for c, _ in line) for line in sps.draw(60, 14))
        assert "8" in drawn.splitlines()[-1] and "32" in drawn.splitlines()[-1]  # envs ticks
        assert "├" in drawn  # the right axis
        eps = screen.query_one("#plot-tune-eps", TunePlot)
        assert [t.label for t in eps.traces] == ["eps/h"]
        assert "4.2 d $202" in plain(screen.query_one("#tune-outcome"))
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TuneScreen)


async def test_apply_waits_for_a_finished_tune_and_u_asks_minutes_first() -> None:
    app = app_for("tnr-0")
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        view.load_state(state_with(recorded_tune("running")), where="ssh")
        await pilot.pause()
        view.query_one(GameGrid).select("MsPacman")
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, TuneScreen)
        assert "rung 3/4: 32 envs" in plain(app.screen.query_one("#tune-status"))
        await pilot.press("a")
        await pilot.pause()
        assert any("no finished tune" in n.message for n in app._notifications)
        await pilot.press("escape")
        view.load_state(state_with(None), where="ssh")
        await pilot.pause()
        await pilot.press("u")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, PickScreen)
        assert picker.choices[0] == ("12", "12 minutes (default)")
        assert any(line.startswith("u ") and "Tune" in line for line in app.help_lines())
        assert "Tune" in {c.title for c in app.get_system_commands(app.screen)}


def test_the_pane_shows_a_trainers_threads() -> None:
    """The pane's settings line ends its shape with the trainer's threads (issue 20.3)."""
    raw = copy.deepcopy(recorded_state()["games"]["MsPacman"])
    g = msgspec.convert(raw, protocol.GameState)
    assert "thr" not in render_game(g, NOW).plain  # started before shares: nothing said
    raw["threads"] = {"torch": 1, "envpool": 1, "cores": 2, "trainers": 3}
    shown = render_game(msgspec.convert(raw, protocol.GameState), NOW).plain
    assert "32 envs · mb 512 · thr 1+1 · gpu 1.1G" in shown
    raw["threads"] |= {"torch": 4, "envpool": 2, "auto": False}
    assert "thr 4+2* · gpu" in render_game(msgspec.convert(raw, protocol.GameState), NOW).plain
