"""The evaluator as the agent runs it: a real process over a real run dir."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.trainer.helpers import REPO, trainer_env


def evaluate(run_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the evaluator to completion."""
    cmd = [sys.executable, "-W", "ignore", "-m", "controlroom.trainer.evaluate"]
    return subprocess.run(
        [*cmd, "--run-dir", str(run_dir), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=trainer_env(),
        cwd=REPO,
        check=False,
    )


def evaluate_json(run_dir: Path, *args: str) -> dict[str, Any]:
    """The --json result of a successful evaluation."""
    done = evaluate(run_dir, "--json", *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.slow
def test_trained_cartpole_scores_at_least_400_over_10_episodes(trained_cartpole: Path) -> None:
    r = evaluate_json(trained_cartpole, "--episodes", "10")
    assert r["episodes"] == 10 and len(r["scores"]) == len(r["lengths"]) == 10
    assert r["policy"] == "greedy"  # auto: greedy for CartPole
    assert r["mean"] >= 400, r["scores"]
    assert r["min"] <= r["median"] <= r["max"] <= 500
    assert r["human_normalized"] is None and r["reference"] is None
    assert r["checkpoint"].startswith("ckpt-") and r["global_step"] >= 160_000


def test_untrained_pong_scores_about_minus_21(untrained_pong: Path) -> None:
    # Two whole games (no cap): ~900 steps each, a few seconds on one thread.
    r = evaluate_json(untrained_pong, "--episodes", "2")
    assert r["policy"] == "sampled" and r["episodes"] == 2 and r["capped"] == 0
    assert -21 <= r["mean"] <= -19, r["scores"]
    assert r["reference"] == {"random": -20.7, "human": 14.6}
    assert abs(r["human_normalized"] - (r["mean"] + 20.7) / 35.3) < 1e-9
    assert all(length > 500 for length in r["lengths"])  # whole games, over all points


def test_max_steps_caps_an_episode_and_says_so(untrained_pong: Path) -> None:
    r = evaluate_json(untrained_pong, "--episodes", "1", "--max-steps", "50")
    assert r["lengths"] == [50] and r["capped"] == 1


def test_text_form_names_the_human_normalized_score(untrained_pong: Path) -> None:
    done = evaluate(untrained_pong, "--episodes", "1", "--max-steps", "20")
    assert done.returncode == 0, done.stderr
    assert "human-normalized" in done.stdout and "cut at --max-steps" in done.stdout


def test_a_corrupt_newer_checkpoint_is_passed_over_and_left_alone(
    untrained_pong: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(untrained_pong, run_dir)
    bad = run_dir / "checkpoints" / "ckpt-000000000064.pt"
    bad.write_bytes(b"not a checkpoint")
    r = evaluate_json(run_dir, "--episodes", "1", "--max-steps", "10")
    assert r["checkpoint"] == "ckpt-000000000032.pt"
    assert bad.exists()  # renaming is the trainer's business, not the evaluator's


def test_a_named_checkpoint_is_the_one_evaluated(untrained_pong: Path) -> None:
    r = evaluate_json(
        untrained_pong,
        "--episodes",
        "1",
        "--max-steps",
        "10",
        "--checkpoint",
        "ckpt-000000000032.pt",
    )
    assert r["checkpoint"] == "ckpt-000000000032.pt" and r["global_step"] == 32


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--episodes", "0"], 2, "--episodes must be in 1..1000"),
        (["--policy", "best"], 2, "invalid choice"),
        (["--checkpoint", "ckpt-000000000099.pt"], 1, "no checkpoint named"),
    ],
)
def test_bad_requests_fail_in_one_line(
    untrained_pong: Path, args: list[str], code: int, words: str
) -> None:
    done = evaluate(untrained_pong, *args)
    assert done.returncode == code and words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_run_without_checkpoints_is_a_clear_error(tmp_path: Path) -> None:
    done = evaluate(tmp_path / "empty", "--episodes", "1")
    assert done.returncode == 1 and "no checkpoint that verifies" in done.stderr
