"""A host that runs only its own trainer `command`s needs neither torch nor envpool (issue
19, item 5): the agent starts there and trains those games; a game of the built-in
trainer does not start, its reason naming what is missing and the install hint, and the
other games keep running. Real agent, real processes, torch/envpool/numpy hidden from
every Python the test starts as a host without them lacks them."""

from __future__ import annotations

import os
from pathlib import Path

from controlroom.extras import INSTALL_HINT
from tests.agent.harness import SLEEPER, AgentHarness, wait_for

BUILTIN_ONLY = ("torch", "envpool", "numpy")  # what the built-in trainer alone imports
HIDE = f"""
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BUILTIN_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
"""


def _without_torch(agent: AgentHarness, root: Path) -> None:
    hide = root / "no_torch"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE)
    agent.env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(hide), os.getcwd(), os.environ.get("PYTHONPATH", "")) if p
    )


def test_a_host_without_torch_runs_command_games_and_names_what_builtin_lacks(
    agent: AgentHarness, tmp_path: Path
) -> None:
    _without_torch(agent, tmp_path)
    agent.write_config(games={"Pong": {"command": SLEEPER}})
    agent.start()  # on main the agent refused to start at all without torch
    agent.call("add_game", game="Pong")
    wait_for(lambda: agent.game("Pong").get("state") == "running", 60, "Pong's own trainer")
    agent.call("add_game", game="CartPole")  # the built-in trainer
    cartpole = wait_for(
        lambda: (g := agent.game("CartPole")).get("state") == "crash_loop" and g,
        60,
        "CartPole refused for want of torch",
    )
    reason = cartpole["last_exit"]
    assert "torch" in reason and "envpool" in reason and INSTALL_HINT in reason, reason
    assert agent.game("Pong")["state"] == "running"
    assert not [p for p in agent.trainers() if "controlroom.trainer" in " ".join(p.cmdline())]
    events = agent.call("events", limit=50)["events"]
    said = [e["message"] for e in events if e.get("game") == "CartPole"]
    assert any(INSTALL_HINT in m for m in said), said
