"""`controlroom agent ensure` says at once why no agent can start, instead of waiting 30 s."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.link.laptop_env import laptop_env, run_controlroom

HINT = "pip install 'controlroom[agent]'"


def test_agent_ensure_without_the_agent_extra_fails_at_once_with_the_hint(
    laptop_python: Path,
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    args = ["agent", "ensure", "--state-dir", str(state)]
    done, took = run_controlroom(laptop_python, args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert took < 2.0, f"took {took:.1f}s"
    assert HINT in done.stderr and "psutil" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (state / "agent.stderr").exists(), "an agent was started anyway"


def test_ensure_reports_an_agent_that_dies_on_start_at_once(tmp_path: Path) -> None:
    # A real start-up death: a config.toml the agent refuses (ensure itself, given
    # --state-dir, does not read it), as after a typo in the host's config.
    state, config = tmp_path / "state", tmp_path / "config.toml"
    config.write_text('[trainer]\nnum_envs = "many"\n')
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "controlroom",
            "agent",
            "ensure",
            "--state-dir",
            str(state),
            "--config",
            str(config),
        ],
        env=laptop_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    took = time.monotonic() - start
    assert done.returncode == 1, done.stderr
    assert took < 10, f"took {took:.1f}s"  # not the 30 s wait
    assert "exited during startup" in done.stderr and "agent.stderr" in done.stderr
    assert "num_envs" in done.stderr, done.stderr  # the agent's own reason, shown at once
