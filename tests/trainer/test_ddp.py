"""One game as a data-parallel job of 2 ranks under torchrun (gloo on this CPU), real
trainers with tiny budgets: identical parameters, the same gradient step as one rank,
learning like one rank with the same total batch, resume at another world size, a clean
stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from controlroom.agent.supervision.job import torchrun_argv
from controlroom.trainer import distributed, metrics
from controlroom.trainer.world import World
from tests.trainer.helpers import REPO, read_metrics, trainer_cmd, trainer_env, wait_for

# 2 envs x 32 steps per rank, 2 minibatches of 32 per rank; a checkpoint after every update.
TINY_CARTPOLE = [
    "--game",
    "CartPole-v1",
    "--num-envs",
    "2",
    "--num-steps",
    "32",
    "--minibatch-size",
    "32",
    "--torch-threads",
    "1",
    "--checkpoint-interval",
    "0.001",
    "--heartbeat-interval",
    "1",
]


def job_cmd(ranks: int, run_dir: Path, *args: str) -> list[str]:
    """What the agent runs for a game of `ranks` GPUs (agent/supervision/job.py's own command line)."""
    return torchrun_argv(ranks, ["--run-dir", str(run_dir), *args])


def run_job(ranks: int, run_dir: Path, *args: str, timeout: float = 120) -> None:
    result = subprocess.run(
        job_cmd(ranks, run_dir, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=trainer_env(),
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def lines_of(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    return [line for line in read_metrics(run_dir) if line["kind"] == kind]


def test_world_comes_from_torchruns_environment() -> None:
    assert World.from_env({}) == World()
    world = World.from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert (world.rank, world.size, world.local_rank, world.main) == (1, 2, 1, False)


def test_heartbeats_are_held_while_rank0_waits_on_the_others(tmp_path: Path) -> None:
    writer = metrics.MetricsWriter(tmp_path / "metrics.jsonl")
    waiting = threading.Event()
    beat = metrics.Heartbeat(writer, 0.05, dict, held=waiting.is_set)
    beat.start()
    try:
        wait_for(lambda: len(lines_of(tmp_path, "heartbeat")) >= 2, timeout=10)
        waiting.set()  # a collective that has waited past the interval
        time.sleep(0.1)
        held_at = len(lines_of(tmp_path, "heartbeat"))
        time.sleep(0.5)
        assert len(lines_of(tmp_path, "heartbeat")) == held_at  # silence: the job's hang
        waiting.clear()
        wait_for(lambda: len(lines_of(tmp_path, "heartbeat")) > held_at, timeout=10)
    finally:
        beat.stop()
        writer.close()


def test_ranks_with_different_parameters_are_refused() -> None:
    distributed.check_same(["ab", "ab"])
    with pytest.raises(distributed.RanksDiverged, match="different parameters"):
        distributed.check_same(["ab", "cd"])


def test_ranks_hold_identical_parameters_and_rank0_reports_the_jobs_totals(
    tmp_path: Path,
) -> None:
    run_job(2, tmp_path, *TINY_CARTPOLE, "--total-steps", "512")
    checkpoints = lines_of(tmp_path, "checkpoint")
    assert len(checkpoints) >= 4  # one per update and the last
    for line in checkpoints:
        first, second = line["param_digests"]
        assert first == second, line
    assert len({line["param_digests"][0] for line in checkpoints}) > 1  # they did change
    start, updates = lines_of(tmp_path, "start")[0], lines_of(tmp_path, "update")
    assert start["settings/world_size"] == 2
    # 2 ranks x 2 envs x 32 steps a rollout: the job's steps, counted once.
    assert [u["global_step"] for u in updates] == [128, 256, 384, 512]
    assert all(u["settings/world_size"] == 2 and u["charts/SPS"] > 0 for u in updates)
    episodes = [u["charts/episodes"] for u in updates]
    assert episodes == sorted(episodes) and episodes[-1] > 0
    # Rank 0 alone wrote: one start and one exit line, nothing but its own files.
    assert len(lines_of(tmp_path, "start")) == len(lines_of(tmp_path, "exit")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoints",
        "metrics.jsonl",
        "trainer.lock",
    ]


def test_one_gradient_step_split_over_two_ranks_is_the_whole_minibatchs() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "--max-restarts",
            "0",
            str(REPO / "tests" / "trainer" / "ddp_one_step.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=trainer_env(),
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0 and "ok" in result.stdout.split(), result.stdout + result.stderr


def test_resume_at_another_world_size(tmp_path: Path) -> None:
    run_job(2, tmp_path, *TINY_CARTPOLE, "--total-steps", "256")
    one = trainer_cmd(tmp_path, "--resume", "--total-steps", "384")
    subprocess.run(one, env=trainer_env(), cwd=REPO, check=True, capture_output=True)
    run_job(2, tmp_path, "--resume", "--total-steps", "640")
    starts, exits = lines_of(tmp_path, "start"), lines_of(tmp_path, "exit")
    assert [s["settings/world_size"] for s in starts] == [2, 1, 2]
    assert [s["global_step"] for s in starts] == [0, 256, 384]
    assert starts[1]["resumed_from"].endswith("ckpt-000000000256.pt")
    assert starts[2]["resumed_from"].endswith("ckpt-000000000384.pt")
    assert [e["global_step"] for e in exits] == [256, 384, 640]
    # The one-rank run stepped 2 envs x 32 per update, the job twice that.
    steps = [u["global_step"] for u in lines_of(tmp_path, "update")]
    assert steps == [128, 256, 320, 384, 512, 640]
    # Episode counts carry over through both resumes.
    episodes = [u["charts/episodes"] for u in lines_of(tmp_path, "update")]
    assert episodes == sorted(episodes)


def test_sigterm_to_torchrun_ends_the_job_on_a_final_checkpoint(tmp_path: Path) -> None:
    job = subprocess.Popen(
        job_cmd(2, tmp_path, *TINY_CARTPOLE, "--total-steps", "100000000"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=trainer_env(),
        cwd=REPO,
    )
    try:
        wait_for(lambda: len(lines_of(tmp_path, "update")) >= 2)
        job.send_signal(signal.SIGTERM)  # torchrun passes it to each rank
        job.wait(timeout=60)
    finally:
        job.kill()
    exit_line = lines_of(tmp_path, "exit")[-1]
    assert exit_line["reason"] == "signal"
    last = lines_of(tmp_path, "checkpoint")[-1]
    assert last["global_step"] == exit_line["global_step"]
    assert (
        json.loads((tmp_path / "checkpoints" / "latest.json").read_text())["global_step"]
        == (exit_line["global_step"])
    )


# CleanRL's CartPole settings for one rank of 4 envs (batch 512, minibatches of 128), and
# the same total batch as 2 ranks of 2 envs (minibatches of 64 per rank, 128 per step).
CARTPOLE = ["--game", "CartPole-v1", "--num-steps", "128", "--clip-coef", "0.2"]
CARTPOLE += ["--seed", "1", "--torch-threads", "1", "--total-steps", "24576"]


def final_mean_return(run_dir: Path) -> float:
    """Mean return over the last 100 episodes at the end of the run."""
    return float(lines_of(run_dir, "update")[-1]["charts/episodic_return_mean"])


@pytest.mark.slow
def test_two_ranks_learn_cartpole_like_one_rank_with_the_same_total_batch(
    tmp_path: Path,
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    started = time.monotonic()
    subprocess.run(
        trainer_cmd(one, *CARTPOLE, "--num-envs", "4", "--minibatch-size", "128"),
        env=trainer_env(),
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=120,
    )
    run_job(2, two, *CARTPOLE, "--num-envs", "2", "--minibatch-size", "64")
    assert time.monotonic() - started < 120
    alone, job = final_mean_return(one), final_mean_return(two)
    # A random policy scores ~22. Seeds differ between the runs' action samples, so the
    # curves match within noise: both learn, neither at half the other's return.
    assert alone > 60 and job > 60, (alone, job)
    assert 0.5 < job / alone < 2.0, (alone, job)


JOB_DEADLINE_S = 270.0
"""How long a tiny job over two "hosts" may take on a loaded machine (two torchruns and
two ranks importing torch on 2 cores); twice this fits in pytest's 600 s."""


def two_hosts(run_dirs: list[Path], *args: str) -> None:
    """A job of one rank on each of two "hosts" (two torchrun launchers on loopback, the
    first hosting the rendezvous), as a job spanning two machines runs. Their stderr goes
    to files, not pipes: read one after the other, a pipe that fills blocks its node, and
    node 0's torchrun waits for it at its exit barrier; both are waited for against one
    deadline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logs = [run_dir.parent / f"{run_dir.name}.torchrun.err" for run_dir in run_dirs]
    nodes = []
    for node, (run_dir, log) in enumerate(zip(run_dirs, logs, strict=True)):
        with open(log, "a") as err:
            nodes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "torch.distributed.run",
                        "--nnodes",
                        "2",
                        "--nproc-per-node",
                        "1",
                        "--node-rank",
                        str(node),
                        "--master-addr",
                        "127.0.0.1",
                        "--master-port",
                        str(port),
                        "--max-restarts",
                        "0",
                        *trainer_cmd(run_dir, *args)[3:],
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    env=trainer_env(),
                    cwd=REPO,
                )
            )
    _wait_all(nodes, logs)


def _wait_all(nodes: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    """Every node exits 0 within JOB_DEADLINE_S; else each node's code and stderr tail."""
    deadline = time.monotonic() + JOB_DEADLINE_S
    while any(n.poll() is None for n in nodes) and time.monotonic() < deadline:
        time.sleep(0.2)
    ended = all(n.poll() is not None for n in nodes)
    for node in nodes:
        if node.poll() is None:
            node.kill()
            node.wait(30)
    report = "\n".join(
        f"node {i} exit {n.returncode}: {log.read_text()[-1500:]}"
        for i, (n, log) in enumerate(zip(nodes, logs, strict=True))
    )
    assert ended, f"the job did not end within {JOB_DEADLINE_S:.0f}s:\n{report}"
    assert all(n.returncode == 0 for n in nodes), report


def test_ranks_on_two_hosts_share_no_run_dir(tmp_path: Path) -> None:
    first, second = tmp_path / "host0", tmp_path / "host1"
    two_hosts([first, second], *TINY_CARTPOLE, "--total-steps", "256", "--resume")
    two_hosts([first, second], *TINY_CARTPOLE, "--total-steps", "512", "--resume")
    starts = lines_of(first, "start")
    assert [s["global_step"] for s in starts] == [0, 256]
    assert starts[1]["resumed_from"]  # the other host's rank got the checkpoint from rank 0
    assert lines_of(first, "exit")[-1]["global_step"] == 512
    assert not second.exists()  # the second host's rank wrote nothing


# Python's teardown of a rank that finished, made to abort as gloo's sometimes does
# ("terminate called without an active exception", exit -6): a finished rank must not
# reach it. Only in the ranks (torchrun sets LOCAL_RANK for them), not in torchrun.
ABORTING_TEARDOWN = """\
import atexit, os
if "LOCAL_RANK" in os.environ:
    atexit.register(os.abort)
"""


def test_a_job_that_spends_its_budget_exits_0_every_time(tmp_path: Path) -> None:
    """Three 2-rank jobs (at once: the box is busy either way) run to their budget, each
    rank's interpreter teardown made to abort: every job exits 0, having written its
    final checkpoint and its `exit: budget` line first."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(ABORTING_TEARDOWN)
    env = trainer_env(PYTHONPATH=f"{tmp_path / 'site'}:{REPO}")
    runs = [tmp_path / f"run{i}" for i in range(3)]
    jobs = [
        subprocess.Popen(
            job_cmd(2, run, *TINY_CARTPOLE, "--total-steps", "128"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO,
        )
        for run in runs
    ]
    for job, run in zip(jobs, runs, strict=True):
        out, _ = job.communicate(timeout=120)
        assert job.returncode == 0, out[-3000:]
        assert lines_of(run, "exit")[-1]["reason"] == "budget"
        assert list(run.glob("checkpoint*"))
