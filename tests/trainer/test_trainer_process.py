"""The trainer as a process: metrics, checkpoints, signals, crash safety, exact resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.trainer.helpers import (
    TINY_PONG,
    kinds,
    read_metrics,
    run_trainer,
    start_trainer,
    wait_for,
)

UPDATE_KEYS = {
    "time",
    "kind",
    "global_step",
    "charts/episodes",
    "charts/episodes_per_hour",
    "charts/SPS",
    "losses/policy_loss",
    "losses/value_loss",
    "losses/entropy",
    "losses/approx_kl",
    "losses/clipfrac",
    "charts/learning_rate",
    "sys/rss_bytes",
    "settings/num_envs",
    "settings/minibatch_size",
}


def ckpts(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").glob("ckpt-*.pt"))


def test_pong_writes_metrics_and_checkpoint(tmp_path: Path) -> None:
    result = run_trainer(tmp_path, *TINY_PONG, "--total-steps", "64")
    assert result.returncode == 0, result.stderr
    lines = read_metrics(tmp_path)
    assert kinds(lines)[0] == "start"
    assert kinds(lines)[-2:] == ["checkpoint", "exit"]
    updates = [line for line in lines if line["kind"] == "update"]
    assert [u["global_step"] for u in updates] == [32, 64]
    assert updates[0].keys() >= UPDATE_KEYS
    assert lines[0]["resumed_from"] is None and lines[0]["settings"]["game"] == "Pong"
    assert lines[-1]["reason"] == "budget"
    assert ckpts(tmp_path) == ["ckpt-000000000064.pt"]
    latest = json.loads((tmp_path / "checkpoints" / "latest.json").read_text())
    assert latest["file"] == "ckpt-000000000064.pt" and latest["game"] == "Pong"
    assert {"global_step", "episodes", "time", "settings"} <= latest.keys()


def test_sigterm_mid_run_checkpoints_and_exits_0(tmp_path: Path) -> None:
    proc = start_trainer(tmp_path, *TINY_PONG, "--total-steps", "100000000")
    wait_for(lambda: "update" in kinds(read_metrics(tmp_path)))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, proc.communicate()[1]
    lines = read_metrics(tmp_path)
    assert kinds(lines)[-2:] == ["checkpoint", "exit"]
    assert lines[-1]["reason"] == "signal"
    latest = json.loads((tmp_path / "checkpoints" / "latest.json").read_text())
    assert latest["global_step"] == lines[-1]["global_step"]


def test_heartbeats_keep_coming(tmp_path: Path) -> None:
    proc = start_trainer(tmp_path, *TINY_PONG, "--total-steps", "100000000")
    try:
        wait_for(lambda: kinds(read_metrics(tmp_path)).count("heartbeat") >= 2)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    beats = [line for line in read_metrics(tmp_path) if line["kind"] == "heartbeat"]
    assert {"global_step", "charts/episodes", "phase"} <= beats[0].keys()


def test_sigkill_while_writing_checkpoint_leaves_run_resumable(pong32: Path) -> None:
    run_dir = pong32
    # The second run stalls between writing its temp file and renaming it; kill it there.
    proc = start_trainer(
        run_dir,
        *TINY_PONG,
        "--total-steps",
        "64",
        "--resume",
        CONTROLROOM_TRAINER_CHECKPOINT_DELAY="60",
    )
    ckdir = run_dir / "checkpoints"
    wait_for(lambda: any(ckdir.glob(".ckpt-*.tmp-*")))
    proc.kill()
    proc.wait(timeout=30)
    assert ckpts(run_dir) == ["ckpt-000000000032.pt"]
    result = run_trainer(run_dir, *TINY_PONG, "--total-steps", "64", "--resume")
    assert result.returncode == 0, result.stderr
    start = [line for line in read_metrics(run_dir) if line["kind"] == "start"][-1]
    assert start["resumed_from"].endswith("ckpt-000000000032.pt")
    assert not any(ckdir.glob(".ckpt-*.tmp-*"))
    assert ckpts(run_dir)[-1] == "ckpt-000000000064.pt"


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_newest_checkpoint_falls_back_with_warning(pong32: Path, damage: str) -> None:
    run_dir = pong32
    assert run_trainer(run_dir, *TINY_PONG, "--total-steps", "64", "--resume").returncode == 0
    newest = run_dir / "checkpoints" / "ckpt-000000000064.pt"
    data = newest.read_bytes()
    if damage == "truncate":
        newest.write_bytes(data[: len(data) // 2])
    else:
        newest.write_bytes(data[:-100] + bytes(b ^ 0xFF for b in data[-100:]))
    result = run_trainer(run_dir, *TINY_PONG, "--total-steps", "64", "--resume")
    assert result.returncode == 0, result.stderr
    assert "WARNING" in result.stderr and "ckpt-000000000064.pt" in result.stderr
    start = [line for line in read_metrics(run_dir) if line["kind"] == "start"][-1]
    assert start["resumed_from"].endswith("ckpt-000000000032.pt")
    assert start["global_step"] == 32


def test_resume_continues_counters_exactly_with_new_sizes(tmp_path: Path) -> None:
    cart = ["--game", "CartPole-v1", "--torch-threads", "1", "--num-steps", "32"]
    first = run_trainer(
        tmp_path, *cart, "--num-envs", "4", "--minibatch-size", "32", "--total-steps", "1024"
    )
    assert first.returncode == 0, first.stderr
    before = json.loads((tmp_path / "checkpoints" / "latest.json").read_text())
    assert before["global_step"] == 1024 and before["episodes"] > 0
    second = run_trainer(
        tmp_path,
        *cart,
        "--num-envs",
        "8",
        "--minibatch-size",
        "64",
        "--total-steps",
        "2048",
        "--resume",
    )
    assert second.returncode == 0, second.stderr
    lines = read_metrics(tmp_path)
    start = [i for i, line in enumerate(lines) if line["kind"] == "start"][-1]
    assert lines[start]["global_step"] == 1024
    assert lines[start]["charts/episodes"] == before["episodes"]
    assert lines[start]["settings"]["num_envs"] == 8
    updates = [line for line in lines[start:] if line["kind"] == "update"]
    assert updates[0]["global_step"] == 1024 + 8 * 32
    assert updates[0]["charts/episodes"] >= before["episodes"]
    after = json.loads((tmp_path / "checkpoints" / "latest.json").read_text())
    assert after["global_step"] == 2048 and after["episodes"] == lines[-1]["charts/episodes"]
    # The annealed learning rate continues from the step, not from scratch.
    assert updates[0]["charts/learning_rate"] == pytest.approx(2.5e-4 * (1 - 1024 / 2048))


def test_resume_with_nothing_to_resume_starts_fresh(tmp_path: Path) -> None:
    result = run_trainer(tmp_path, *TINY_PONG, "--total-steps", "32", "--resume")
    assert result.returncode == 0, result.stderr
    assert read_metrics(tmp_path)[0]["global_step"] == 0


def test_tensorboard_event_files(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    result = run_trainer(tmp_path, *TINY_PONG, "--total-steps", "32", "--tensorboard")
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_second_trainer_on_same_run_dir_is_refused(tmp_path: Path) -> None:
    proc = start_trainer(tmp_path, *TINY_PONG, "--total-steps", "100000000")
    try:
        wait_for(lambda: bool(read_metrics(tmp_path)))
        result = run_trainer(tmp_path, *TINY_PONG, "--resume")
        assert result.returncode == 2
        assert "another trainer" in result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_help_explains_minibatch_is_batch_size() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "controlroom.trainer", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 0
    assert "'batch size'" in result.stdout and "--target-episodes" in result.stdout


def test_target_episodes_ends_the_run_with_exit_0(tmp_path: Path) -> None:
    result = run_trainer(
        tmp_path,
        "--game",
        "CartPole-v1",
        "--num-envs",
        "4",
        "--num-steps",
        "32",
        "--minibatch-size",
        "32",
        "--target-episodes",
        "10",
    )
    assert result.returncode == 0, result.stderr
    lines = read_metrics(tmp_path)
    assert lines[-1]["reason"] == "budget" and lines[-1]["charts/episodes"] >= 10
    assert lines[0]["settings"]["total_steps"] == 0
