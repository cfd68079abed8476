"""The host CLI through the socket: clear errors, exit 2, nothing changed."""

from __future__ import annotations

import json

from tests.agent.harness import AgentHarness, wait_for


def test_where_prints_socket_and_state_dir(agent: AgentHarness) -> None:
    done = agent.cli("where")
    assert done.returncode == 0
    where = json.loads(done.stdout)
    assert where["socket"] == str(agent.state_dir / "agent.sock")
    assert where["state_dir"] == str(agent.state_dir) and where["version"]


def test_state_dir_from_environment(agent: AgentHarness) -> None:
    import subprocess
    import sys

    env = {**agent.env, "CONTROLROOM_STATE_DIR": str(agent.root / "elsewhere")}
    done = subprocess.run(
        [sys.executable, "-m", "controlroom.agent", "where"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["state_dir"] == str(agent.root / "elsewhere")


def test_no_agent_is_a_clear_error(agent: AgentHarness) -> None:
    done = agent.cli("status")
    assert done.returncode == 1
    assert "no agent" in done.stderr


def test_bad_requests_exit_2_and_change_nothing(agent: AgentHarness) -> None:
    agent.start()
    bad = [
        ("add", "Pongg"),  # unknown game, with a suggestion
        ("add", "Pong", "--num-envs", "0"),
        ("add", "Pong", "--num-envs", "3", "--num-steps", "16", "--minibatch-size", "32"),
        ("add", "Pong", "--num-envs", "many"),  # argparse
        ("add", "Pong", "--device", "tpu"),
        ("scale", "Pong", "--num-envs", "4"),  # not on this host
        ("remove", "Asteroidz"),
    ]
    for args in bad:
        done = agent.cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.strip(), args
    assert "did you mean 'Pong'" in agent.cli("add", "Pongg").stderr
    state = agent.call("status")
    assert state["games"] == {}
    assert not [e for e in state["events"] if e["kind"] == "game_added"]
    assert not agent.trainers()


def test_status_reboots_events_json(agent: AgentHarness) -> None:
    agent.start()
    status = json.loads(agent.cli("status", "--json").stdout)
    assert status["host"]["boot_id"] == "boot-1"
    assert status["gpu_error"]  # no NVIDIA driver on the test machine
    boots = json.loads(agent.cli("reboots", "--json").stdout)
    assert [b["boot_id"] for b in boots] == ["boot-1"]
    assert "agent_started" in agent.cli("events").stdout
    text = agent.cli("status").stdout
    assert "GAME" in text and "GPU: none" in text


def test_shutdown_exits_the_agent_and_can_stop_trainers(agent: AgentHarness) -> None:
    import sys

    agent.write_config(
        games={"Pong": {"command": [sys.executable, "-c", "import time; time.sleep(600)"]}}
    )
    agent.start()
    agent.call("add_game", game="Pong")
    wait_for(agent.trainers, 30, "the trainer")
    done = agent.cli("shutdown", "--stop-trainers")
    assert done.returncode == 0, done.stderr
    assert "agent stopping; stopped: Pong" in done.stdout
    assert agent.proc is not None and agent.proc.wait(30) == 0
    wait_for(lambda: not agent.trainers(), 30, "trainers to stop")
