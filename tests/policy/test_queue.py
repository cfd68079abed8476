"""The queue hands a finished game's slot (and settings) to the next waiting game."""

from __future__ import annotations

from controlroom.agent.policy import saved
from controlroom.agent.policy.queue import Queue, Slot, default_order, reached_target
from controlroom.config import loads, starter_text
from controlroom.protocol import Checkpoint, GameState
from tests.gamestates import game_state


def gs(
    state: str = "running",
    episodes: int = 0,
    target: int = 100,
    envs: int = 32,
    wanted: bool = True,
) -> GameState:
    return game_state(
        {"num_envs": envs},
        state=state,
        wanted=wanted,
        target_episodes=target,
        metrics={"episodes": episodes},
    )


def test_reached_target() -> None:
    assert reached_target(gs(state="done"))
    assert reached_target(gs(episodes=100))
    assert not reached_target(gs(episodes=99))
    checkpoint = Checkpoint(time=1.0, global_step=5000, episodes=100)  # metrics not yet
    assert reached_target(game_state(target_episodes=100, checkpoint=checkpoint))


def test_next_game_takes_the_finished_slot() -> None:
    games = {"A": gs(), "B": gs()}
    q = Queue()
    q.reset(["C", "D"], games)
    assert q.collect(games) == [] and q.next_start(games) is None
    games["A"] = gs(state="done", envs=64)
    assert q.collect(games) == ["A"]
    assert q.collect(games) == []  # only once
    nxt = q.next_start(games)
    assert nxt == ("C", Slot("A", {"num_envs": 64}))
    assert q.next_start(games) is None  # one slot, one game
    q.put_back(*nxt)
    assert q.waiting == ["C", "D"]
    raw = saved.dump(saved.SavedPolicy(queue=q))
    assert raw["queue"]["free_slots"] == [{"from": "A", "settings": {"num_envs": 64}}]
    back = saved.load(raw).queue
    assert back.next_start(games) == nxt


def test_already_running_or_finished_games_are_skipped() -> None:
    games = {"A": gs(state="done"), "C": gs()}
    q = Queue()
    q.reset(["C", "D"], {})
    q.collect(games)
    assert q.next_start(games) == ("D", Slot("A", {"num_envs": 32}))


def test_reset_does_not_free_slots_for_old_finishes() -> None:
    games = {"A": gs(state="done")}
    q = Queue()
    q.reset(["B"], games)
    assert q.collect(games) == [] and q.next_start(games) is None


def test_default_order_is_config_order_minus_active_and_done() -> None:
    cfg = loads(starter_text())
    order = default_order(cfg, {"MsPacman": gs(), "Pong": gs(state="done")})
    assert order[:3] == ["BeamRider", "Asteroids", "Enduro"]
    assert "MsPacman" not in order and "Pong" not in order
