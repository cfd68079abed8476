"""Beside trials in a real agent: a second trainer for the game from a copy of its
checkpoint, compared side by side, adopted across an agent restart, then discarded or
kept (docs/policies.md, Trials)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil

from controlroom.agent.supervision.threads import share
from tests.agent.harness import AgentHarness, wait_for
from tests.agent.test_placement_agent import environ
from tests.policy.test_live import events, progress, resumed_run, running


def trial_of(h: AgentHarness, game: str) -> dict[str, Any]:
    trial: dict[str, Any] = h.call("status")["policy"]["trials"].get(game) or {}
    return trial


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_beside_trial_two_trainers_then_discard_then_keep(policy_agent: AgentHarness) -> None:
    h = policy_agent
    h.start()
    h.call("add_game", game="CartPole")
    wait_for(lambda: running(h, "CartPole") and progress(h, "CartPole"), 90, "a checkpoint")
    game_pid = h.game("CartPole")["pid"]
    # The guard must allow a whole second trainer with the candidate's envs.
    out = h.cli("trial", "CartPole", "--minutes", "1", "--num-envs", "64", "--beside")
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert "refused: total envs would be 66 > max_total_envs 64 (2 over)" in out.stderr
    assert not h.trainers("trials") and trial_of(h, "CartPole") == {}
    trial = h.call("trial", game="CartPole", settings={"num_envs": 4}, minutes=0.25, mode="beside")[
        "trial"
    ]
    trial_dir = Path(trial["dir"])
    assert trial_dir.parent == h.state_dir / "trials" / "CartPole"
    assert trial["status"] == "running" and trial["keep"] is None
    assert trial["settings"]["num_envs"] == 4 and trial["restore_settings"]["num_envs"] == 2
    # Two trainers for the game at once: its own, untouched, and the trial's.
    [own] = h.trainers()
    [second] = h.trainers("trials")
    assert (own.pid, second.pid) == (game_pid, trial["pid"])
    # Its envpool threads: a share of the cores with the game's trainer (at most 4 envs).
    share_of_two = min(share(len(os.sched_getaffinity(0)), 2), 4)
    assert environ(second.pid)["CONTROLROOM_ENVPOOL_THREADS"] == str(share_of_two)
    assert h.game("CartPole")["settings"]["num_envs"] == 2
    load = h.call("status")["policy"]["guard"]["load"]
    assert (load["trainers"], load["envs"]) == (2, 6)
    # The agent restarts mid-trial: it adopts the trial trainer and the trial goes on.
    h.terminate()
    h.start()
    again = trial_of(h, "CartPole")
    assert again["status"] == "running" and again["pid"] == trial["pid"]
    assert any("trial trainer of CartPole" in e["message"] for e in events(h, "adopted"))

    def finished() -> dict[str, Any] | None:
        t = trial_of(h, "CartPole")
        return t if t.get("status") == "finished" else None

    done = wait_for(finished, 90, "the beside trial to finish")
    rows = {r["figure"]: r for r in done["comparison"]}
    assert (rows["settings"]["current"]["num_envs"], rows["settings"]["trial"]["num_envs"]) == (
        2,
        4,
    )
    assert rows["sps"]["current"] and rows["sps"]["trial"]
    assert rows["episodes_per_hour"]["current"] and rows["episodes_per_hour"]["trial"]
    assert done["decision"] is None and "waiting for trial_decide CartPole" in done["outcome"]
    assert done["trial_checkpoint"]["global_step"] >= done["from_checkpoint"]["global_step"]
    wait_for(lambda: gone(trial["pid"]), 20, "the trial trainer to exit")
    assert "beside trial CartPole: finished" in h.cli("status").stdout
    # Discard: the trial dir goes; the game never stopped and kept its settings.
    before = progress(h, "CartPole")
    out = h.cli("trial-decide", "CartPole", "--discard")
    assert out.returncode == 0, out.stderr
    assert "learning discarded: trial dir removed, CartPole unchanged" in out.stdout
    assert not trial_dir.exists()
    game = h.game("CartPole")
    assert game["pid"] == game_pid and game["settings"]["num_envs"] == 2
    assert game["checkpoint"]["global_step"] >= before["global_step"]
    assert len(h.cli("trial-decide", "CartPole", "--keep").stderr) > 0  # decided already
    # Keep, chosen upfront: the game resumes from the trial's checkpoint, candidate settings.
    out = h.cli("trial", "CartPole", "--minutes", "0.15", "--num-envs", "4", "--beside", "--keep")
    assert out.returncode == 0, out.stderr
    assert "in a second trainer" in out.stdout and out.stdout.rstrip().endswith(
        "then its learning is kept"
    )
    kept = wait_for(
        lambda: (t := trial_of(h, "CartPole")).get("decision") == "kept" and t, 90, "the kept trial"
    )
    assert not Path(kept["dir"]).exists() and kept["snapshot"]
    start, step = wait_for(lambda: resumed_run(h, "CartPole", 2), 60, "the game's new trainer")
    assert start["resumed_from"].endswith(kept["trial_checkpoint"]["file"])
    assert start["settings"]["num_envs"] == 4 and h.game("CartPole")["settings"]["num_envs"] == 4
    assert step >= kept["trial_checkpoint"]["global_step"]
    assert [e["data"]["decision"] for e in events(h, "trial_decided")] == ["discarded", "kept"]
