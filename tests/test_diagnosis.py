"""agent/learning/diagnosis.py on recorded series (controlroom/tui/recorded_history.py, each from a
real run): a learning run and one through a crash and a reboot look fine; Pong's flat
start is flat; the learning run with its entropy collapsed or its KL blown up is
flagged. Plus the [diagnostics] thresholds as config.toml takes them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controlroom import protocol
from controlroom.agent.learning.diagnosis import diagnose, steps_per_update
from controlroom.agent.learning.history import COLUMN, Row
from controlroom.config import ConfigError, DiagnosticsConfig, loads
from controlroom.tui import recorded_history

DEFAULTS = DiagnosticsConfig()


def rows(reply: dict[str, Any]) -> list[Row]:
    return copy.deepcopy(reply["rows"])


def codes(found: list[dict[str, str]]) -> list[str]:
    return [f.code for f in found]


def test_learning_and_restarted_runs_look_fine() -> None:
    for reply in (recorded_history.learning_cartpole(), recorded_history.with_restart_and_reboot()):
        assert diagnose(rows(reply), DEFAULTS, 0.2) == []
        # Even with a window short enough to judge them: they gained.
        assert diagnose(rows(reply), DiagnosticsConfig(flat_updates=20), 0.2) == []


def test_flat_pong_is_flat_once_the_window_is_covered() -> None:
    flat = rows(recorded_history.flat_run())
    assert diagnose(flat, DEFAULTS) == []  # 300 updates: younger than 2000
    found = diagnose(flat, DiagnosticsConfig(flat_updates=200))
    assert codes(found) == ["return_flat"]
    assert "for the last 200 updates (204,800 steps)" in found[0].message
    assert steps_per_update(flat) == 1024  # 8 envs x 128 steps
    # Pong did gain 0.4 since its start: a tolerance under 2% of 21 counts that.
    assert diagnose(flat, DiagnosticsConfig(flat_updates=200, flat_min_gain=0.01)) == []


def test_collapsed_entropy_is_flagged_only_when_early() -> None:
    collapsed = rows(recorded_history.learning_cartpole())
    for row in collapsed[len(collapsed) // 3 :]:
        row[COLUMN["entropy"]] = 0.01  # from 0.69: a deterministic policy after 200k steps
    found = diagnose(collapsed, DEFAULTS, 0.2)
    assert codes(found) == ["entropy_collapsed"]
    assert "entropy collapsed early: 0.01 now" in found[0].message
    late = DiagnosticsConfig(entropy_early_steps=100_000)
    assert diagnose(collapsed, late, 0.2) == []
    assert diagnose(collapsed, DiagnosticsConfig(entropy_collapse_fraction=0.01), 0.2) == []


def test_kl_far_above_the_clip_range_is_flagged() -> None:
    wild = rows(recorded_history.learning_cartpole())
    for row in wild[-10:]:
        row[COLUMN["approx_kl"]] = 0.5
    found = diagnose(wild, DEFAULTS, 0.2)
    assert codes(found) == ["kl_high"] and "approx KL 0.5" in found[0].message
    assert diagnose(wild, DiagnosticsConfig(kl_clip_factor=5.0), 0.2) == []
    wild[-1][COLUMN["approx_kl"]] = None  # a missing value is skipped, not a crash
    assert codes(diagnose(wild, DEFAULTS, None)) == ["kl_high"]  # default clip 0.1
    one_spike = rows(recorded_history.learning_cartpole())
    one_spike[-1][COLUMN["approx_kl"]] = 5.0
    assert diagnose(one_spike, DEFAULTS, 0.2) == []  # a median, not one update


def test_short_or_empty_series_say_nothing() -> None:
    assert diagnose([], DEFAULTS) == []
    assert diagnose(rows(recorded_history.learning_cartpole())[:3], DEFAULTS) == []


def test_thresholds_from_config() -> None:
    cfg = loads("[diagnostics]\nflat_updates = 500\nkl_clip_factor = 2\n")
    assert cfg.diagnostics.flat_updates == 500 and cfg.diagnostics.kl_clip_factor == 2.0
    for text, key in [
        ("entropy_collapse_fraction = 0", "entropy_collapse_fraction: must be > 0"),
        ("flat_updates = 5", "flat_updates: must be >= 10"),
        ("kl_updates = 1.5", "kl_updates: must be an integer"),
        ("flat_min_gain = nan", "flat_min_gain: must be a finite number"),
        ("tolerance = 1", "unknown key"),
    ]:
        with pytest.raises(ConfigError, match=key):
            loads(f"[diagnostics]\n{text}\n")


def test_status_text_says_what_looks_wrong() -> None:
    from controlroom.agent.hostcli.show import status_text

    flat = recorded_history.flat_run()["diagnosis"][0]
    game = {"game": "Pong", "env_id": None, "wanted": True, "state": "running", "settings": {}}
    game["diagnosis"] = [flat]
    fine = {**game, "game": "CartPole", "diagnosis": []}
    text = status_text(protocol.as_state({"games": {"Pong": game, "CartPole": fine}}))
    assert text.count("looks wrong:") == 1 and f"  looks wrong: {flat['message']}" in text
