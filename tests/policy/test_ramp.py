"""The ramp's state machine: step after a stable window, back off and record the
ceiling after a reboot, never climb past it, survive serialisation."""

from __future__ import annotations

import json

from controlroom.agent.policy import ramp, saved
from controlroom.agent.policy.ramp import RampState
from controlroom.config import RampConfig

CFG = RampConfig(
    enabled=True,
    stable_minutes=30.0,
    start_games=2,
    max_games=5,
    games=["MsPacman", "Pong", "Asteroids", "Freeway", "BeamRider", "Enduro"],
)
STEPS = ramp.steps(CFG)
WINDOW = 30 * 60.0


def test_steps_from_config() -> None:
    assert STEPS == [
        ["MsPacman", "Pong"],
        ["MsPacman", "Pong", "Asteroids"],
        ["MsPacman", "Pong", "Asteroids", "Freeway"],
        ["MsPacman", "Pong", "Asteroids", "Freeway", "BeamRider"],
    ]
    assert ramp.steps(RampConfig(games=["A"], start_games=2, max_games=6)) == [["A"]]


def test_steps_after_each_stable_window() -> None:
    s = RampState()
    ramp.enable(s, STEPS, now=0.0, boot_id="b1")
    assert ramp.view(s, STEPS, WINDOW).next_action == "add Asteroids"
    assert ramp.view(s, STEPS, WINDOW).next_action_at == WINDOW
    assert not ramp.tick(s, STEPS, WINDOW - 1, WINDOW, None)
    assert ramp.tick(s, STEPS, WINDOW, WINDOW, None)
    assert s.step == 1 and s.stable_since == WINDOW


def test_hold_restarts_the_window() -> None:
    s = RampState()
    ramp.enable(s, STEPS, now=0.0, boot_id="b1")
    assert not ramp.tick(s, STEPS, 1000.0, WINDOW, "crash loop: Pong")
    v = ramp.view(s, STEPS, WINDOW)
    assert v.phase == "holding" and v.hold == "crash loop: Pong"
    assert v.next_action_at is None
    assert not ramp.tick(s, STEPS, 1000.0 + WINDOW - 1, WINDOW, None)
    assert ramp.tick(s, STEPS, 1000.0 + WINDOW, WINDOW, None)


def test_reboot_backs_off_and_records_ceiling() -> None:
    s = RampState()
    ramp.enable(s, STEPS, now=0.0, boot_id="b1")
    for k in range(1, 3):
        assert ramp.tick(s, STEPS, k * WINDOW, WINDOW, None)
    assert s.step == 2
    assert ramp.on_boot(s, "b1", 3 * WINDOW) is None  # an agent restart, not a reboot
    msg = ramp.on_boot(s, "b2", 4 * WINDOW)
    assert msg == "reboot at ramp step 2: back to step 1, ceiling recorded"
    assert (s.step, s.ceiling) == (1, 1)
    v = ramp.view(s, STEPS, WINDOW)
    assert v.phase == "at_ceiling" and v.ceiling_games == 3
    assert v.next_action is None
    # It never climbs past the ceiling.
    assert not ramp.tick(s, STEPS, 100 * WINDOW, WINDOW, None)
    assert s.step == 1


def test_reboot_at_first_step_stays_there() -> None:
    s = RampState()
    ramp.enable(s, STEPS, now=0.0, boot_id="b1")
    ramp.on_boot(s, "b2", 10.0)
    assert (s.step, s.ceiling) == (0, 0)


def test_stops_at_last_step() -> None:
    s = RampState()
    ramp.enable(s, STEPS, now=0.0, boot_id="b1")
    for k in range(1, 10):
        ramp.tick(s, STEPS, k * WINDOW, WINDOW, None)
    assert s.step == 3
    assert ramp.view(s, STEPS, WINDOW).phase == "at_last_step"


def test_disabled_does_nothing_and_reboot_is_not_blamed() -> None:
    s = RampState()
    assert not ramp.tick(s, STEPS, 1e9, WINDOW, None)
    s.boot_id = "b1"
    assert ramp.on_boot(s, "b2", 0.0) is None
    assert s.ceiling is None and s.boot_id == "b2"


def test_state_round_trips_through_the_kv_store_json() -> None:
    s = RampState()
    ramp.enable(s, STEPS, now=5.0, boot_id="b1")
    ramp.tick(s, STEPS, 5.0 + WINDOW, WINDOW, None)
    raw = json.loads(json.dumps(saved.dump(saved.SavedPolicy(ramp=s))))
    raw["ramp"]["from_the_future"] = 1
    back = saved.load(raw).ramp
    assert back == s
    ramp.disable(back)
    assert not back.enabled and back.step == 1
