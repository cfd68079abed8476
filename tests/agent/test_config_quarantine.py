"""A bad value in the agent's own config copy (written by an older agent, e.g. a NaN
guard budget, or a bound that tightened since) is quarantined at start: the agent comes
up, names each dropped key in an `error` event, keeps the old file aside, and nothing
else in the copy changes (issue 10 §1)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.agent.harness import AgentHarness


def test_bad_values_in_the_agents_copy_are_quarantined_with_events(tmp_path: Path) -> None:
    h = AgentHarness(tmp_path)
    try:
        h.start()  # writes the agent's own copy
        h.terminate()
        copy = h.state_dir / "config.toml"
        text = copy.read_text()
        assert "telemetry_s = 1.0\n" in text and "[guard]" not in text
        bad = text.replace("telemetry_s = 1.0\n", "telemetry_s = -1.0\n", 1) + (
            "\n[guard]\nmax_gpu_temp_c = nan\nmax_trainers = 3\n"
        )
        copy.write_text(bad)
        h.start()
        status = h.call("status")
        errors = [e["message"] for e in status["events"] if e["kind"] == "error"]
        assert any("guard.max_gpu_temp_c" in m for m in errors), errors
        assert any("agent.telemetry_s" in m for m in errors), errors
        assert status["policy"]["guard"]["budgets"]["max_gpu_temp_c"] == 83.0  # the default
        saved = tomllib.loads(copy.read_text())
        assert saved["guard"]["max_trainers"] == 3  # the good value next to it is kept
        assert saved["guard"]["max_gpu_temp_c"] == 83.0 and saved["agent"]["telemetry_s"] > 0
        [aside] = h.state_dir.glob("config.toml.rejected-*")
        assert aside.read_text() == bad  # nothing the user wrote is lost
    finally:
        h.close()


def test_a_copy_that_is_not_toml_still_refuses_in_one_line(tmp_path: Path) -> None:
    h = AgentHarness(tmp_path)
    try:
        h.start()
        h.terminate()
        (h.state_dir / "config.toml").write_text("[guard\n")
        with pytest.raises(AssertionError, match="TOML syntax error") as refused:
            h.start()
        assert "Traceback" not in str(refused.value)
    finally:
        h.close()
