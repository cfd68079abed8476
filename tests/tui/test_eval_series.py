"""The evaluation score beside the training return: the detail plot's eval line and the
pane's last score (pure: the traces and the pane's text)."""

from __future__ import annotations

from controlroom import protocol
from controlroom.protocol import HISTORY_COLUMNS
from controlroom.tui.history import RunHistory
from controlroom.tui.learning import EVAL_COLOR, View, traces
from controlroom.tui.widgets.game_pane import render_game


def reply(rows: list[dict[str, float]]) -> dict[str, object]:
    return {
        "columns": list(HISTORY_COLUMNS),
        "rows": [[r.get(c) for c in HISTORY_COLUMNS] for r in rows],
        "marks": [],
        "cursor": rows[-1]["time"],
    }


def test_the_return_plot_draws_the_eval_scores_as_their_own_line() -> None:
    run = RunHistory("Pong")
    updates = [
        {"time": float(t), "global_step": t * 100, "return_mean": -21.0 + t} for t in range(1, 6)
    ]
    evals = [{"time": 2.5, "global_step": 200, "eval_mean": -19.0}]
    run.merge(reply(sorted(updates + evals, key=lambda r: r["time"])))
    drawn = traces("return_mean", run, {}, View())
    line = next(t for t in drawn if t.label == "eval")
    assert line.xs == [200] and line.ys == [-19.0] and line.color == EVAL_COLOR
    own = next(t for t in drawn if t.label == "Pong")
    assert len(own.xs) == 5  # the eval row is not a point of the training return
    assert not any(t.label == "eval" for t in traces("sps", run, {}, View()))


def test_a_run_without_evaluations_draws_no_eval_line() -> None:
    run = RunHistory("Pong")
    run.merge(reply([{"time": 1.0, "global_step": 100, "return_mean": -20.0}]))
    assert [t.label for t in traces("return_mean", run, {}, View())] == ["min", "max", "Pong"]


def test_the_pane_shows_the_last_eval_score() -> None:
    g = protocol.GameState(
        game="Pong",
        env_id="Pong-v5",
        wanted=True,
        state=protocol.GameStatus.RUNNING,
        settings={},
        metrics={"return_mean": -20.0},
        last_eval=-18.5,
    )
    assert "eval -18.5" in render_game(g, 0.0).plain
    g.last_eval = None
    assert "eval" not in render_game(g, 0.0).plain
