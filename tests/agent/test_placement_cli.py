"""`controlroom agent add GAME --gpus N|I,J [--json]` and `migrate --gpus` through the
real agent on a recorded 8-GPU host (issue 14.4): the placement in the JSON and the
text, bad values exit 2 changing nothing, the guard's refusal exits 3 naming the GPU."""

from __future__ import annotations

import json

from tests.agent.harness import AgentHarness, wait_for
from tests.agent.test_placement_agent import MIXED, environ, start, started


def test_add_with_gpus_json_and_text(agent: AgentHarness) -> None:
    start(agent, MIXED)
    done = agent.cli("add", "Pong", "--gpus", "2", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["changed"] is True
    assert result["game"]["settings"]["gpus"] == 2
    assert result["game"]["gpus"] == [3, 6]  # the two emptiest
    done = agent.cli("add", "Breakout", "--gpus", "0,7")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Breakout: added (starting, 2 envs, GPUs 0,7)"
    assert started(agent, "Breakout")["settings"]["gpus"] == [0, 7]
    status = agent.cli("status").stdout
    assert "GPU  CHECKPOINT" in status
    line = next(x for x in status.splitlines() if x.startswith("Breakout"))
    assert " 0,7* " in line  # pinned
    # The guard's line names the fullest and the hottest GPU (budgets hold per GPU).
    assert "GPU4 mem 56%/50%  GPU0 temp 55C/83C" in status


def test_bad_gpus_exit_2_and_refused_exit_3(agent: AgentHarness) -> None:
    start(agent, MIXED)
    for value, words in (
        ("0", "a GPU count must be 1..64"),
        ("x", "a count (2) or GPU indices (0,3)"),
        ("1,1", "names GPU 1 more than once"),
    ):
        done = agent.cli("add", "Pong", "--gpus", value)
        assert done.returncode == 2 and words in done.stderr, (value, done.stderr)
    done = agent.cli("add", "Pong", "--gpus", "4,")
    assert done.returncode == 3
    assert "refused: Pong is pinned to GPU 4: memory would be 56%" in done.stderr
    assert agent.call("status")["games"] == {}


def test_migrate_moves_a_game_to_other_gpus(agent: AgentHarness) -> None:
    start(agent, MIXED)
    agent.call("add_game", game="Pong")
    first = started(agent, "Pong")
    assert first["gpus"] == [3]
    done = agent.cli("migrate", "Pong", "--gpus", "5,")
    assert done.returncode == 0, done.stderr
    assert "Pong: migrated to" in done.stdout and ", GPU 5 (" in done.stdout
    moved = wait_for(
        lambda: (g := started(agent, "Pong"))["pid"] != first["pid"] and g, 30, "Pong moved"
    )
    assert moved["gpus"] == [5] and environ(moved["pid"])["CUDA_VISIBLE_DEVICES"] == "5"
