"""kill -9 soak: a few dozen SIGKILLs of a fast game that checkpoints between them.

It must keep coming back (never parked in a crash loop: every run made progress),
never run two trainers at once (the trainer's own flock records any overlap in TWIN),
and resume each time from the checkpoint it had at the kill. bench/soak.py runs the
same for longer and reports restart latency and lost steps.
"""

from __future__ import annotations

import random

import pytest

from tests.agent.faultkit import FaultHarness, kill_once, stepper

KILLS = 30


@pytest.mark.slow
def test_kill_9_soak_keeps_one_trainer_coming_back_from_its_checkpoint(
    fagent: FaultHarness,
) -> None:
    # The shipped crash loop is 5 in 600 s; the tests' one (3 in 60 s) is stricter.
    fagent.write_config(agent={"backoff_initial_s": 0.2}, games={"Pong": {"command": stepper()}})
    fagent.start()
    fagent.call("add_game", game="Pong")
    rng = random.Random(10)
    run_dir = fagent.state_dir / "runs" / "Pong"
    checkpoint = 0
    for n in range(KILLS):
        kill = kill_once(fagent, "Pong", checkpoint, rng.uniform(0.0, 0.3))
        assert kill.most_trainers <= 1, f"kill {n}: two trainers at once"
        assert "crash_loop" not in kill.states, f"kill {n}: parked after progress"
        assert kill.resumed and kill.resumed_step == kill.checkpoint_at_kill, (n, kill)
        assert kill.lost_steps >= 0, (n, kill)
        checkpoint = kill.checkpoint_at_kill
    assert not (run_dir / "TWIN").exists(), (run_dir / "TWIN").read_text()
    g = fagent.game("Pong")
    assert g["restarts"] == KILLS and g["state"] == "running"
    assert len(fagent.trainers()) == 1
