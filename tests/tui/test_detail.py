"""The detail screen on recorded histories: what each plot draws, the marks, the
diagnosis, the keys (axis, smoothing, log y, page), the data path (once, then after the
cursor) and the compare views (overlaid games, a trial's two sides)."""

from __future__ import annotations

import copy

from controlroom.tui.history import RunHistory, wall_unit
from controlroom.tui.recorded_history import flat_run, learning_cartpole, with_restart_and_reboot
from controlroom.tui.screens.detail import DetailScreen
from controlroom.tui.screens.main import MainScreen
from controlroom.tui.screens.modals import PickScreen
from controlroom.tui.widgets.game_pane import GameGrid, GamePane
from controlroom.tui.widgets.host_view import HostView
from tests.tui.detail_support import (
    SIZE,
    T0,
    RecordedAgent,
    candidate,
    labels,
    open_detail,
    plot,
    recorded_app,
    state_with_cartpole,
    synthetic,
    with_trial,
)
from tests.tui.test_live import footer


def text_of(screen: DetailScreen, id_: str) -> str:
    return str(screen.query_one(f"#{id_}").render())


async def test_enter_opens_the_selected_games_screen_and_escape_returns() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.query_one(HostView)
        view.load_state(state_with_cartpole(), where="ssh")
        await pilot.pause()
        view.query_one(GameGrid).select("Pong")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen) and app.screen.game == "Pong"
        for _ in range(50):  # no link here: the screen says so and keeps trying
            if app.screen.polls:
                break
            await pilot.pause(0.02)
        assert "trying again" in text_of(app.screen, "detail-title")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_learning_cartpole_draws_a_rising_return_inside_its_band() -> None:
    reply = learning_cartpole()
    agent = RecordedAgent({("CartPole", "main"): reply})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        return_plot = plot(screen, "return_mean")
        band_min, band_max, mean = return_plot.traces
        assert (band_min.label, band_max.label, mean.label) == ("min", "max", "CartPole")
        assert band_min.dim and band_max.dim and not mean.dim
        assert len(mean.ys) == len(reply["rows"]) and mean.ys[-1] > mean.ys[0] + 400
        assert all(
            lo <= m <= hi for lo, m, hi in zip(band_min.ys, mean.ys, band_max.ys, strict=True)
        )
        assert mean.xs == [r[1] for r in reply["rows"]]  # over global step
        assert [(m.x, m.kind) for m in return_plot.marks] == [(0.0, "start")]
        for column in ("length_mean", "episodes_per_hour", "sps"):
            assert labels(screen, column) == ["CartPole"]
        assert "nothing looks wrong" in text_of(screen, "diagnosis")
        assert "update 2 sps 1510" in screen.log_shown


async def test_ppo_page_draws_the_diagnostics() -> None:
    reply = learning_cartpole()
    agent = RecordedAgent({("CartPole", "main"): reply})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        assert plot(screen, "entropy").traces == []  # hidden page: not drawn
        await pilot.press("p")
        await pilot.pause()
        for column in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"):
            (trace,) = plot(screen, column).traces
            assert len(trace.ys) == len(reply["rows"]), column
        (entropy,) = plot(screen, "entropy").traces
        assert entropy.ys[-1] < entropy.ys[0]  # a policy that learnt is surer of itself


async def test_the_page_key_says_which_page_it_shows() -> None:
    agent = RecordedAgent({("CartPole", "main"): learning_cartpole()})
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        assert ("p", "PPO") in footer(app) and screen.page == "learning"
        await pilot.press("p")
        await pilot.pause()
        assert ("p", "Learning") in footer(app) and screen.page == "ppo"
        assert ("p", "PPO") not in footer(app)
        await pilot.press("p")
        await pilot.pause()
        assert ("p", "PPO") in footer(app) and screen.page == "learning"
        await pilot.press("p", "escape")  # a screen opened again starts on its own label
        screen = await open_detail(pilot, agent, state_with_cartpole())
        assert ("p", "PPO") in footer(app)


async def test_flat_run_says_what_looks_wrong_on_screen_and_pane() -> None:
    reply = flat_run()
    agent = RecordedAgent({("Pong", "main"): reply})
    state = state_with_cartpole({"Pong": reply["diagnosis"]})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state, game="Pong")
        main = pilot.app.screen_stack[-2]
        assert "looks wrong" in str(main.query_one("#game-Pong").border_subtitle)
        assert "looks wrong" not in str(main.query_one("#game-CartPole").border_subtitle)
        shown = text_of(screen, "diagnosis")
        assert "looks wrong" in shown and reply["diagnosis"][0]["message"][:60] in shown
        assert screen.query_one("#diagnosis").has_class("-wrong")
        (_, _, mean) = plot(screen, "return_mean").traces
        assert max(mean.ys[-100:]) - min(mean.ys[-100:]) < 1.5  # flat near -20.5
        assert len(mean.ys) == sum(r[2] is not None for r in reply["rows"])  # gaps left out


async def test_restart_and_reboot_are_marked_on_every_axis() -> None:
    reply = with_restart_and_reboot()
    agent = RecordedAgent({("CartPole", "main"): reply})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        expected = [(float(m["global_step"]), m["kind"]) for m in reply["marks"]]
        kinds = [kind for _, kind in expected]
        assert {"crash", "restart", "reboot", "checkpoint_restored"} <= set(kinds)
        for column in ("return_mean", "length_mean", "episodes_per_hour", "sps"):
            assert [(m.x, m.kind) for m in plot(screen, column).marks] == expected
        shown = text_of(screen, "marks")
        assert "reboot" in shown and "checkpoint_restored" in shown  # the newest four
        await pilot.press("w")  # wall time: seconds since the first row (a 79 s run)
        await pilot.pause()
        first = reply["rows"][0][0]
        wall = [(round(m.x, 3), m.kind) for m in plot(screen, "sps").marks]
        assert wall == [(round(m["time"] - first, 3), m["kind"]) for m in reply["marks"]]
        assert plot(screen, "sps").traces[0].xs[0] == 0.0
        assert plot(screen, "sps").x_label == "wall time (seconds)"


def test_a_mark_without_a_step_sits_at_the_last_row_before_it() -> None:
    run = RunHistory("CartPole")
    reply = synthetic()
    reply["marks"].append({"time": T0 + 805, "global_step": None, "kind": "reboot", "message": ""})
    run.merge(reply)
    assert run.mark_x(run.marks[-1], "step") == 80 * 2048
    assert run.mark_x(run.marks[-1], "wall") == 805


def test_the_wall_time_unit_follows_the_span() -> None:
    spans: list[tuple[float, str]] = [
        (0, "seconds"),
        (119, "seconds"),
        (120, "minutes"),
        (3 * 3600 - 1, "minutes"),
    ]
    spans += [(3 * 3600, "hours"), (10 * 3600, "hours"), (2 * 86400, "days"), (9e6, "days")]
    assert [(s, wall_unit(s).name) for s, _ in spans] == spans


async def test_a_ten_hour_run_reads_in_hours_on_the_wall_axis() -> None:
    long = synthetic(n=121)  # a row every 5 minutes: 10 hours
    long["rows"] = [[T0 + 300 * i, *r[1:]] for i, r in enumerate(long["rows"])]
    long["marks"].append({"time": T0 + 5 * 3600, "global_step": None, "kind": "reboot"})
    long["cursor"] = long["rows"][-1][0]
    agent = RecordedAgent({("CartPole", "main"): long})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        await pilot.press("w")
        await pilot.pause()
        sps = plot(screen, "sps")
        assert sps.x_label == "wall time (hours)" and "wall time (hours)" in text_of(
            screen, "detail-title"
        )
        assert sps.traces[0].xs[0] == 0.0 and sps.traces[0].xs[-1] == 10.0
        assert [(m.x, m.kind) for m in sps.marks] == [(0.0, "start"), (5.0, "reboot")]
        ticks = "".join(chars for chars, _ in sps.draw(60, 12)[-1])
        assert ticks.split() == ["0", "2.5", "5", "7.5", "10", "wall", "time", "(hours)"]


async def test_asks_once_then_only_after_the_cursor() -> None:
    full = synthetic()
    recorded = copy.deepcopy(full)
    recorded["rows"], recorded["cursor"] = full["rows"][:100], full["rows"][99][0]
    agent = RecordedAgent({("CartPole", "main"): recorded})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        assert len(screen.main.rows) == 100
        agent.replies[("CartPole", "main")] = full  # the trainer wrote 20 more rows
        await screen.poll()
        await screen.poll()  # nothing new: nothing appended twice
        await pilot.pause()
        first, second, third = agent.history_calls()
        assert first == {"game": "CartPole", "run": "main", "after": None}
        assert second["after"] == full["rows"][99][0] and third["after"] == full["rows"][-1][0]
        assert len(screen.main.rows) == 120
        assert len(plot(screen, "return_mean").traces[-1].ys) == 120


async def test_smoothing_and_log_keys() -> None:
    agent = RecordedAgent({("CartPole", "main"): synthetic()})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        await pilot.press("s")
        await pilot.pause()
        raw, smooth = plot(screen, "sps").traces
        assert screen.view.smoothing == 0.6 and raw.dim and not smooth.dim
        assert max(smooth.ys) - min(smooth.ys) < max(raw.ys) - min(raw.ys)
        await pilot.press("s", "s")  # 0.9, then back to none
        assert screen.view.smoothing == 0.0
        await pilot.press("p", "y")
        await pilot.pause()
        loss = plot(screen, "policy_loss")
        assert loss.log_y and loss.hidden > 0  # a loss below zero has no place on a log axis
        assert "log" in text_of(screen, "detail-title")


async def test_overlay_another_game_on_the_same_axes() -> None:
    pong = synthetic()
    pong["game"] = "Pong"
    pong["rows"] = [[*r[:2], -21.0 + i * 0.1, *r[3:]] for i, r in enumerate(pong["rows"])]
    agent = RecordedAgent({("CartPole", "main"): synthetic(), ("Pong", "main"): pong})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        await pilot.press("o")
        await pilot.pause()
        picker = pilot.app.screen
        assert isinstance(picker, PickScreen)
        assert [v for v, _ in picker.choices] == ["Breakout", "MsPacman", "Pong"]
        picker.dismiss("Pong")
        for _ in range(50):
            if "Pong" in labels(screen, "return_mean"):
                break
            await pilot.pause(0.02)
        assert labels(screen, "return_mean") == ["min", "max", "CartPole", "Pong"]
        pong_trace = plot(screen, "return_mean").traces[-1]
        assert pong_trace.ys[0] == -21.0 and pong_trace.color != "cyan"
        assert {"game": "Pong", "run": "main", "after": None} in agent.history_calls()
        assert "Pong" in text_of(screen, "compare")
        screen.toggle_overlay("Pong")  # picked again: off
        assert labels(screen, "return_mean") == ["min", "max", "CartPole"]


async def test_games_marked_on_the_main_screen_open_overlaid() -> None:
    pong = synthetic()
    pong["game"] = "Pong"
    agent = RecordedAgent({("CartPole", "main"): synthetic(), ("Pong", "main"): pong})
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = app.query_one(HostView)
        view.load_state(state_with_cartpole(), where="ssh")
        view.request = agent.request  # type: ignore[method-assign]  # the recorded agent
        await pilot.pause()
        grid = view.query_one(GameGrid)
        for game in ("Pong", "MsPacman", "CartPole", "MsPacman"):  # MsPacman: on, then off
            grid.select(game)
            await pilot.press("m")
        await pilot.pause()
        titles = {p.game: str(p.border_title) for p in grid.query(GamePane)}
        assert titles["Pong"].startswith("◆ Pong") and titles["CartPole"].startswith("◆ ")
        assert not titles["MsPacman"].startswith("◆") and not titles["Breakout"].startswith("◆")
        assert view.compared_games() == ["Pong", "CartPole"]
        grid.select("CartPole")  # marked itself: the others are its overlays
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen) and screen.view.overlays == ["Pong"]
        for _ in range(50):
            if screen.polls:
                break
            await pilot.pause(0.02)
        assert labels(screen, "return_mean") == ["min", "max", "CartPole", "Pong"]
        assert {"game": "Pong", "run": "main", "after": None} in agent.history_calls()
        assert "Pong" in text_of(screen, "compare")
        screen.toggle_overlay("Pong")  # off here only: the main screen keeps its marks
        await pilot.press("escape")
        await pilot.pause()
        assert view.compared_games() == ["Pong", "CartPole"]
        state = state_with_cartpole()
        del state["games"]["Pong"]  # removed on the host: its mark goes with its pane
        view.load_state(state, where="ssh")
        await pilot.pause()
        assert view.compared_games() == ["CartPole"]


async def test_an_overlay_the_agent_no_longer_has_leaves_it() -> None:
    agent = RecordedAgent({("CartPole", "main"): synthetic()})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        screen.toggle_overlay("Breakout")  # removed on the host meanwhile
        for _ in range(50):
            if not screen.view.overlays:
                break
            await pilot.pause(0.02)
        await pilot.pause()
        assert screen.view.overlays == [] and "Breakout" not in screen.others
        assert labels(screen, "return_mean") == ["min", "max", "CartPole"]
        assert any("Breakout left the overlay" in n.message for n in pilot.app._notifications)
        assert "trying again" not in text_of(screen, "detail-title")


async def test_beside_trial_overlays_the_candidate_from_the_trial_start() -> None:
    replies = {("CartPole", "main"): synthetic(), ("CartPole", "trial"): candidate()}
    agent = RecordedAgent(replies)
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, with_trial("beside"))
        await pilot.press("v")
        for _ in range(50):
            if any(c.get("run") == "trial" for c in agent.history_calls()):
                break
            await pilot.pause(0.02)
        await pilot.pause()
        current, trial = plot(screen, "return_mean").traces
        assert (current.label, trial.label) == ("current", "candidate")
        assert current.xs[0] == trial.xs[0] == 0.0  # aligned at the trial's start
        assert current.xs[-1] == 20 * 2048 and trial.xs[-1] == 20 * 4096
        assert trial.ys[0] == 500.0
        assert [(m.x, m.kind) for m in plot(screen, "return_mean").marks] == [
            (0.0, "trial_start"),
            (20 * 2048, "trial_end"),
        ]
        verdict = text_of(screen, "compare")
        assert "keep or discard?" in verdict and "9,000→9,900" in verdict
        assert "trial_start" in text_of(screen, "marks") and "beside" in text_of(screen, "marks")
        await pilot.press("v")
        await pilot.pause()
        assert labels(screen, "return_mean") == ["min", "max", "CartPole"]


async def test_instead_trial_compares_the_window_with_the_same_length_before() -> None:
    agent = RecordedAgent({("CartPole", "main"): synthetic()})
    state = with_trial("instead", outcome="kept: eps/h +10%")
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state)
        await pilot.press("v")
        await pilot.pause()
        before, trial = plot(screen, "return_mean").traces
        assert (before.label, trial.label) == ("before", "trial")
        assert before.xs[0] == trial.xs[0] == 0.0
        assert len(before.ys) == len(trial.ys) == 21  # 200 s each, a row every 10 s
        assert before.ys[0] == 20 + 4 * 60 and trial.ys[0] == 20 + 4 * 80
        assert "kept: eps/h +10%" in text_of(screen, "compare")
        assert all(c.get("run") == "main" for c in agent.history_calls())


async def test_no_trial_says_so() -> None:
    agent = RecordedAgent({("CartPole", "main"): synthetic()})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        await pilot.press("v")
        await pilot.pause()
        assert screen.view.trial is None
        assert any("no trial of CartPole" in n.message for n in pilot.app._notifications)


async def test_a_bad_reply_is_said_and_changes_nothing() -> None:
    agent = RecordedAgent({("CartPole", "main"): synthetic()})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        agent.replies[("CartPole", "main")] = {"rows": "nope"}
        await screen.poll()
        await pilot.pause()
        assert "history" in text_of(screen, "detail-title")
        assert len(screen.main.rows) == 120


def test_merge_keeps_its_own_cap_fine_recent_coarse_old() -> None:
    run = RunHistory("CartPole")
    reply = synthetic()
    for i in range(40):
        reply["rows"] = [[T0 + 1000 * i + k, *r[1:]] for k, r in enumerate(reply["rows"])]
        run.merge(reply)
    times = [r[0] or 0.0 for r in run.rows]
    assert len(run.rows) <= 4000 and times == sorted(times)
    assert times[-1] - times[-2] == 1 and times[1] - times[0] > 1
    assert len(run.marks) == 1  # the same start mark, kept once
