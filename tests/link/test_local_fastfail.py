"""`controlroom local` on a laptop-only install: the install hint at once, not a 30 s wait.

Run in a real laptop-only Python (tests/link/laptop_env.py): a venv with the laptop
dependencies and no torch, envpool, psutil, nvidia-ml-py or numpy.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.link.laptop_env import run_controlroom
from tests.link.realagent import RealAgent

HINT = "pip install 'controlroom[agent]'"
FAST_S = 2.0


def test_the_laptop_python_really_lacks_the_agent_extra(laptop_python: Path) -> None:
    probe = (
        "import importlib.util as u; import textual, asyncssh, controlroom; "
        "print([m for m in ('torch', 'envpool', 'psutil', 'numpy') if u.find_spec(m)])"
    )
    out = subprocess.run(
        [str(laptop_python), "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_local_without_the_agent_extra_fails_at_once_with_the_hint(
    laptop_python: Path,
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    done, took = run_controlroom(laptop_python, ["local", "--state-dir", str(state)], tmp_path)
    assert done.returncode == 2, done.stderr
    assert took < FAST_S, f"took {took:.1f}s"
    assert HINT in done.stderr and "psutil" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not (state / "agent.stderr").exists(), "an agent was started anyway"


def test_a_running_agent_needs_no_extra_on_this_side(
    laptop_python: Path,
    agent: RealAgent,
) -> None:
    script = (
        "import sys; from pathlib import Path; from controlroom.link.local import "
        "ensure_agent; print(ensure_agent(Path(sys.argv[1]), None))"
    )
    done = subprocess.run(
        [str(laptop_python), "-c", script, str(agent.state_dir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(agent.socket)
