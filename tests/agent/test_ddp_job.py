"""A game of 2 GPUs through the real agent: one torchrun job of 2 ranks (gloo on this
CPU), supervised as one unit. kill -9 of one rank restarts the whole job from its
checkpoint; a rank that stops answering is the job's hang; the state shows the world size."""

from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest

from controlroom.agent.supervision.job import torchrun_argv
from controlroom.agent.supervision.launch import trainer_argv
from tests.agent.harness import CARTPOLE_FLAGS, AgentHarness, wait_for
from tests.agent.test_supervise import running, start_lines, steps_after_last_start

pytestmark = pytest.mark.slow

JOB = {"gpus": 2}


def ranks(job_pid: int) -> dict[int, psutil.Process]:
    """The job's rank processes by rank, from their torchrun environment."""
    found: dict[int, psutil.Process] = {}
    try:
        children = psutil.Process(job_pid).children()
    except psutil.Error:  # the job ended since its state was read (a restart under way)
        return found
    for child in children:
        try:
            found[int(child.environ()["RANK"])] = child
        except (psutil.Error, KeyError):
            continue
    return found


def job_running(agent: AgentHarness, game: str) -> dict[str, Any] | None:
    """The game once its job runs with both ranks up."""
    g = running(agent, game)
    return g if g and len(ranks(g["pid"])) == 2 else None


def test_a_game_of_two_gpus_is_launched_as_torchrun_of_two_ranks(tmp_path: Path) -> None:
    settings = CARTPOLE_FLAGS
    single = trainer_argv("CartPole", settings, tmp_path)
    job = trainer_argv("CartPole", {**settings, "gpus": [0, 3]}, tmp_path)
    assert job == torchrun_argv(2, single[3:])  # the same trainer flags, under torchrun
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    assert job[1:8] == [*torchrun, "--max-restarts", "0"]
    assert trainer_argv("CartPole", {**settings, "gpus": 1}, tmp_path) == single


def test_kill_9_of_one_rank_restarts_the_whole_job_from_its_checkpoint(
    agent: AgentHarness,
) -> None:
    agent.start()
    agent.call("add_game", game="CartPole", settings=JOB)
    run_dir = agent.state_dir / "runs" / "CartPole"
    first = wait_for(lambda: job_running(agent, "CartPole"), 90, "the job running")
    assert first["world_size"] == 2
    assert "torch.distributed.run" in psutil.Process(first["pid"]).cmdline()
    assert start_lines(run_dir)[0]["settings/world_size"] == 2
    checkpoint = wait_for(lambda: agent.game("CartPole").get("checkpoint"), 90, "a checkpoint")
    old_ranks = ranks(first["pid"])
    old_ranks[1].kill()  # SIGKILL
    second = wait_for(
        lambda: (g := job_running(agent, "CartPole")) and g["pid"] != first["pid"] and g,
        60,
        "the job restarted",
    )
    assert second["restarts"] == 1 and second["world_size"] == 2
    wait_for(lambda: len(start_lines(run_dir)) == 2, 90, "the second start line")
    assert start_lines(run_dir)[-1]["resumed_from"]
    steps = wait_for(lambda: steps_after_last_start(run_dir), 60, "progress after resume")
    assert steps[0] >= checkpoint["global_step"]
    kinds = [e["kind"] for e in agent.call("events", limit=50)["events"]]
    assert "crash" in kinds and "restart" in kinds
    # Nothing of the first job is left: torchrun ended rank 0 when rank 1 died.
    assert not any(
        p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in old_ranks.values()
    )
    assert len(agent.trainers()) == 3  # torchrun and its 2 ranks


def test_a_rank_that_stops_answering_is_a_hang_of_the_job(agent: AgentHarness) -> None:
    # Long enough for a job to start on a loaded 2-core machine (silence from the start
    # counts too), short enough for a test.
    agent.write_config(agent={"hang_timeout_s": 25.0, "stop_grace_s": 2.0})
    agent.start()
    agent.call("add_game", game="CartPole", settings=JOB)
    first = wait_for(lambda: job_running(agent, "CartPole"), 90, "the job running")
    wait_for(lambda: (agent.game("CartPole").get("metrics") or {}).get("sps"), 60, "an update")
    stuck = ranks(first["pid"])[1]
    os.kill(stuck.pid, signal.SIGSTOP)  # alive, silent: rank 0 waits for it in the all-reduce
    try:
        wait_for(lambda: agent.game("CartPole").get("restarts", 0) >= 1, 60, "a restart")
        kinds = [e["kind"] for e in agent.call("events", limit=50)["events"]]
        assert "hung" in kinds
        # SIGKILLed with torchrun (die_with_parent), stopped as it was.
        wait_for(lambda: not stuck.is_running() or stuck.status() == psutil.STATUS_ZOMBIE, 10)
        wait_for(lambda: job_running(agent, "CartPole"), 90, "the job running again")
    finally:
        if stuck.is_running():
            os.kill(stuck.pid, signal.SIGKILL)


def test_changing_gpus_resumes_the_game_at_the_new_world_size(agent: AgentHarness) -> None:
    agent.start()
    agent.call("add_game", game="CartPole")
    run_dir = agent.state_dir / "runs" / "CartPole"
    wait_for(lambda: running(agent, "CartPole"), 90, "one trainer running")
    wait_for(lambda: agent.game("CartPole").get("checkpoint"), 90, "a checkpoint")
    agent.call("migrate", game="CartPole", settings=JOB)  # 1 -> 2
    job = wait_for(lambda: job_running(agent, "CartPole"), 90, "the job of 2 running")
    assert job["world_size"] == 2
    wait_for(lambda: len(start_lines(run_dir)) == 2, 60, "the job's start line")
    wait_for(lambda: (agent.game("CartPole").get("checkpoint") or {}).get("global_step"), 60)
    agent.call("migrate", game="CartPole", settings={"gpus": 1})  # 2 -> 1
    wait_for(
        lambda: (g := running(agent, "CartPole")) and g["pid"] != job["pid"] and g, 90, "one again"
    )
    wait_for(lambda: len(start_lines(run_dir)) == 3, 60, "the single trainer's start line")
    starts = start_lines(run_dir)
    assert [s["settings/world_size"] for s in starts] == [1, 2, 1]
    assert all(s["resumed_from"] for s in starts[1:])  # progress kept both ways
    assert starts[1]["global_step"] > 0 and starts[2]["global_step"] >= starts[1]["global_step"]
    assert agent.game("CartPole")["world_size"] == 1


def test_a_rank_that_refuses_its_settings_is_not_restarted(agent: AgentHarness) -> None:
    """torchrun exits 1 whatever its ranks did: the agent reads the rank's exit 2 and its
    refusal from trainer.log, and treats the job as a trainer that exited 2."""
    run_dir = agent.state_dir / "runs" / "CartPole"
    run_dir.mkdir(parents=True)
    # Two ranks importing torch on a loaded machine may take longer than the harness's
    # hang timeout to refuse: the refusal, not a hang, is what this test waits for.
    agent.write_config(agent={"hang_timeout_s": 600.0})
    with open(run_dir / "trainer.lock", "a") as held:  # another writer holds the run dir
        fcntl.flock(held, fcntl.LOCK_EX)
        agent.start()
        agent.call("add_game", game="CartPole", settings=JOB)
        game = wait_for(
            lambda: (g := agent.game("CartPole")).get("state") == "crash_loop" and g,
            300,
            "the refusal",
        )
    assert "exit code 2 (bad settings or usage)" in game["last_exit"]
    assert "another trainer holds" in game["last_exit"]
    assert game["restarts"] == 0, game["last_exit"]
