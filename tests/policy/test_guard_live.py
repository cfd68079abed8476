"""The guard's running check in a real agent: host RAM is the one limit a test can
cross on any machine. Lowering [guard].max_host_ram_fraction under the RAM in use
pauses the newest-added game first; raising it back resumes it after resume_hold_s.
The limit sits far under the RAM in use (half of it): on a shared machine RAM moves by
more than a few percent as other processes come and go, and a limit just under it could
stop being crossed before the guard's next look."""

from __future__ import annotations

import re
import tomllib

import psutil
import pytest

from controlroom.agent.hostcli.client import OpFailed
from tests.agent.harness import AgentHarness, wait_for
from tests.policy.test_live import events, running


def ram_fraction() -> float:
    """As the agent's telemetry counts it: (total - available) / total."""
    vm = psutil.virtual_memory()
    return float(vm.total - vm.available) / vm.total


def test_ram_breach_pauses_newest_game_then_resumes(policy_agent: AgentHarness) -> None:
    h = policy_agent
    text = h.config_path.read_text()
    h.config_path.write_text(
        text.replace("[guard]\n", "[guard]\naction_interval_s = 3\nresume_hold_s = 2\n")
    )
    h.start()
    h.call("add_game", game="CartPole")
    h.call("add_game", game="Pong")  # added last: the one the guard pauses
    wait_for(lambda: running(h, "CartPole") and running(h, "Pong"), 240, "both games")
    with pytest.raises(OpFailed, match=r"guard.max_host_ram_fraction: must be <= 1, not 1.5"):
        h.call("set_guard", budgets={"max_host_ram_fraction": 1.5})
    with pytest.raises(OpFailed, match="unknown guard budget max_cpu"):
        h.call("set_guard", budgets={"max_cpu": 1})
    ram = ram_fraction()
    if ram > 0.9:
        pytest.skip(f"host RAM already at {ram:.0%}: no room to come back under a limit")
    limit = round(max(0.005, ram / 2), 3)
    budgets = h.call("set_guard", budgets={"max_host_ram_fraction": limit})["budgets"]
    assert budgets["max_host_ram_fraction"] == limit
    paused = wait_for(lambda: events(h, "guard_paused"), 120, "the guard to pause a game")[0]
    assert paused["game"] == "Pong"
    assert re.fullmatch(
        rf"paused Pong: host RAM \d+% >= max_host_ram_fraction "
        rf"{limit * 100:.0f}%",
        paused["message"],
    ), paused["message"]
    assert paused["data"]["load"]["ram_fraction"] >= limit
    pong = wait_for(lambda: (g := h.game("Pong"))["state"] == "paused" and g, 120, "paused")
    assert pong["pid"] is None and pong["checkpoint"]
    # Pong goes first. RAM stays over the limit, so the guard may shed the next newest
    # game on its next tick, which is its rule, not a fault.
    paused_now = h.call("status")["policy"]["guard"]["paused"]
    assert paused_now[0] == "Pong" and set(paused_now) <= {"Pong", "CartPole"}
    # Back under the limit (with its margin) for resume_hold_s: Pong resumes.
    h.call("set_guard", budgets={"max_host_ram_fraction": 1.0})
    saved = tomllib.loads((h.state_dir / "config.toml").read_text())
    assert saved["guard"]["max_host_ram_fraction"] == 1.0
    resumed = wait_for(
        lambda: next((e for e in events(h, "guard_resumed") if e["game"] == "Pong"), None),
        120,
        "the guard to resume Pong",
    )
    assert resumed["message"] == "resumed Pong: back under the guard's limits"
    assert resumed["ts"] - paused["ts"] >= 2.0
    wait_for(lambda: running(h, "Pong") and running(h, "CartPole"), 240, "both to run again")
    assert h.call("status")["policy"]["guard"]["paused"] == []
    changes = [e["data"]["changed"] for e in events(h, "guard_changed")]
    assert changes == [
        {"max_host_ram_fraction": [0.9, limit]},
        {"max_host_ram_fraction": [limit, 1.0]},
    ]
