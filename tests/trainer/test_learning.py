"""CartPole on the same code path learns: the CPU check that the PPO maths is right."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.helpers import read_metrics, run_trainer

# CleanRL ppo.py's CartPole settings (4 envs x 128 steps, 4 minibatches, clip 0.2); the
# other hyperparameters are the trainer's defaults, shared with Atari.
CARTPOLE = [
    "--game",
    "CartPole-v1",
    "--num-envs",
    "4",
    "--num-steps",
    "128",
    "--minibatch-size",
    "128",
    "--clip-coef",
    "0.2",
    "--seed",
    "1",
    "--torch-threads",
    "1",
    "--total-steps",
    "120000",
]


@pytest.mark.slow
def test_cartpole_mean_return_above_195_within_budget(tmp_path: Path) -> None:
    result = run_trainer(tmp_path, *CARTPOLE, timeout=300)
    assert result.returncode == 0, result.stderr
    means = [
        line.get("charts/episodic_return_mean", 0.0)
        for line in read_metrics(tmp_path)
        if line["kind"] == "update"
    ]
    assert max(means) > 195, f"best mean return over 100 episodes: {max(means):.1f}"
