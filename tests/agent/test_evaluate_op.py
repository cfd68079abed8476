"""`controlroom agent eval`: the agent runs the trainer's evaluator as a process and
relays its result over the real socket."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psutil
import pytest

from controlroom import protocol
from tests.agent.harness import AgentHarness, wait_for


def give_run(agent: AgentHarness, run: Path, game: str) -> None:
    """Put a finished run where the agent keeps the game's run dir."""
    shutil.copytree(run, agent.state_dir / "runs" / game)


def evaluators() -> list[psutil.Process]:
    """Live evaluator processes of this test's agents."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if "controlroom.trainer.evaluate" in " ".join(p.info["cmdline"] or []):
            found.append(p)
    return found


@pytest.mark.slow
def test_eval_json_scores_the_trained_cartpole_at_least_400(
    agent: AgentHarness, trained_cartpole: Path
) -> None:
    agent.start()
    give_run(agent, trained_cartpole, "CartPole-v1")
    done = agent.cli("eval", "CartPole-v1", "--episodes", "10", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    r = protocol.as_result(json.loads(done.stdout), protocol.Evaluation)
    assert r.episodes == 10 and r.mean >= 400 and r.device == "cpu"
    assert r.human_normalized is None


def test_eval_text_of_an_untrained_pong_names_its_human_normalized_score(
    agent: AgentHarness, untrained_pong: Path
) -> None:
    agent.start()
    give_run(agent, untrained_pong, "Pong")
    done = agent.cli("eval", "Pong", "--episodes", "1", timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Pong ckpt-000000000032.pt" in done.stdout
    assert "human-normalized" in done.stdout and "random -20.7, human 14.6" in done.stdout
    mean = float(done.stdout.split("mean ")[1].split()[0])
    assert -21 <= mean <= -18
    wait_for(lambda: not evaluators(), 30, "the evaluator to exit after its answer")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["Pongg"], "unknown game 'Pongg' (did you mean 'Pong'?)"),
        (["Breakout"], "Breakout has no checkpoint on this host yet"),
        (["Pong", "--episodes", "0"], "episodes: expected `int` >= 1"),
        (["Pong", "--checkpoint", "../../etc/passwd"], "checkpoint: expected `str` matching"),
    ],
)
def test_eval_refuses_clearly_and_the_agent_lives_on(
    agent: AgentHarness, args: list[str], words: str
) -> None:
    agent.start()
    done = agent.cli("eval", *args)
    assert done.returncode == 2, done.stderr
    assert words in done.stderr
    assert agent.call("ping")["pong"] is True


def test_eval_of_a_host_with_its_own_trainer_command_is_refused(agent: AgentHarness) -> None:
    agent.write_config(trainer={"command": ["sleep", "1000"]})
    agent.start()
    done = agent.cli("eval", "Pong")
    assert done.returncode == 2 and "its own `command`" in done.stderr
