"""A host that lost a GPU (issue: agent-edges 6), through the real agent on a recorded
host (nvml.RecordedReader behind the real reader interface): a stored game of 4 ranks
waits, saying which GPUs it needs and has, instead of crash-looping on fewer; nothing
stored changes; when the GPUs are back it runs on them."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.agent.harness import AgentHarness, wait_for
from tests.agent.test_placement_agent import record, start, started


def rewrite(path: Path, used_gib: list[float]) -> None:
    """The host changes under the running agent (written whole: the reader rereads it)."""
    record(path.with_suffix(".new"), used_gib)
    os.replace(path.with_suffix(".new"), path)


def stored(agent: AgentHarness) -> tuple[Any, ...]:
    with contextlib.closing(sqlite3.connect(agent.state_dir / "agent.db")) as db:
        settings, gpus = db.execute("SELECT settings, gpus FROM games WHERE name='Pong'").fetchone()
    return json.loads(settings)["gpus"], json.loads(gpus)


def events(agent: AgentHarness, kind: str) -> list[dict[str, Any]]:
    return [e for e in agent.call("events", limit=200)["events"] if e["kind"] == kind]


def test_a_game_of_four_ranks_waits_for_its_gpus_then_runs(agent: AgentHarness) -> None:
    start(agent, [1, 1, 1, 1])
    agent.call("add_game", game="Pong", settings={"gpus": 4})
    assert started(agent, "Pong")["gpus"] == [0, 1, 2, 3]
    # The host reboots with two of its GPUs gone.
    agent.kill()
    agent.kill_trainers()
    agent.boot_file.write_text("boot-2\n")
    start(agent, [1, 1])
    reason = "Pong needs 4 GPUs; this host has 2 (GPUs 0,1)"
    held = wait_for(lambda: (g := agent.game("Pong")).get("state") == "backoff" and g, 20, "held")
    assert held["pid"] is None and held["last_exit"] == f"waiting for GPUs: {reason}"
    said = wait_for(lambda: events(agent, "error"), 10, "the hold explained")
    assert said[-1]["game"] == "Pong" and reason in said[-1]["message"]
    assert said[-1]["data"] == {"waiting_for_gpus": reason}
    time.sleep(6)  # past a recheck: still waiting, said once, nothing started
    assert agent.game("Pong")["state"] == "backoff" and agent.game("Pong")["pid"] is None
    assert len(events(agent, "error")) == 1
    assert not agent.trainers()
    assert stored(agent) == (4, [0, 1, 2, 3])  # the wanted 4 GPUs and its placement kept
    # The GPUs are back: it starts on all four (a start, not a crash restart).
    rewrite(agent.root / "gpus.json", [1, 1, 1, 1])
    back = wait_for(lambda: (g := started(agent, "Pong")) and g, 20, "Pong back on 4 GPUs")
    assert back["gpus"] == [0, 1, 2, 3] and back["last_exit"] is None
    assert back["restarts"] == 0 and back["settings"]["gpus"] == 4
    begun = events(agent, "trainer_started")[-1]
    assert "the GPUs it waited for are back" in begun["message"]


def test_a_pinned_gpu_that_is_gone_is_named(agent: AgentHarness) -> None:
    start(agent, [1, 1, 1, 1])
    agent.call("add_game", game="Pong", settings={"gpus": [3]})
    assert started(agent, "Pong")["gpus"] == [3]
    agent.kill()
    agent.kill_trainers()
    rewrite(agent.root / "gpus.json", [1, 1, 1])
    agent.start()
    held = wait_for(lambda: (g := agent.game("Pong")).get("state") == "backoff" and g, 20, "held")
    assert held["last_exit"] == (
        "waiting for GPUs: Pong is pinned to GPU 3; GPU 3 gone: this host has 3 (GPUs 0,1,2)"
    )
    assert not agent.trainers()


def test_a_host_that_reads_no_gpu_any_more_holds_its_gpu_games(agent: AgentHarness) -> None:
    """The driver goes away (the host reads no GPU at all): a game that ran on GPUs
    here waits for them, as on a host with fewer, instead of its 4 ranks starting on the
    CPU; a game never placed on a GPU (device auto) still trains on the CPU."""
    start(agent, [1, 1, 1, 1])
    agent.call("add_game", game="Pong", settings={"gpus": 4})
    assert started(agent, "Pong")["gpus"] == [0, 1, 2, 3]
    agent.kill()
    agent.kill_trainers()
    agent.boot_file.write_text("boot-2\n")
    start(agent, [])
    reason = (
        "Pong needs 4 GPUs (it ran on GPUs 0,1,2,3 here); this host reads no GPU "
        '(driver gone?): set device = "cpu" to train it on the CPU'
    )
    held = wait_for(lambda: (g := agent.game("Pong")).get("state") == "backoff" and g, 20, "held")
    assert held["pid"] is None and held["last_exit"] == f"waiting for GPUs: {reason}"
    said = wait_for(lambda: events(agent, "error"), 10, "the hold explained")
    assert said[-1]["data"] == {"waiting_for_gpus": reason}
    assert stored(agent) == (4, [0, 1, 2, 3])
    # A game never placed on a GPU here trains on the CPU, as on a host without GPUs.
    agent.call("add_game", game="Breakout", settings={"gpus": 2})
    assert started(agent, "Breakout")["gpus"] == []
    assert agent.game("Pong")["pid"] is None and len(agent.trainers()) == 1
    rewrite(agent.root / "gpus.json", [1, 1, 1, 1])
    back = wait_for(lambda: (g := started(agent, "Pong")) and g, 20, "Pong back on 4 GPUs")
    assert back["gpus"] == [0, 1, 2, 3] and back["restarts"] == 0
