"""The `history` op and `controlroom agent history` on a real agent with real CartPole
trainers: the curve survives an agent restart, a reboot and a trainer resume (each
marked), the cursor returns only what is new, a beside trial's candidate has its own
curve, and bad requests are refused with a clear error, changing nothing."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

import pytest

from controlroom.agent.hostcli.client import OpFailed
from controlroom.protocol import HISTORY_COLUMNS, HISTORY_POINTS, MARK_KINDS
from tests.agent.harness import AgentHarness, wait_for

CARTPOLE = {"CartPole": {"target_episodes": 10**6}}
# About ten updates a second on this CPU: no thinning within a test (HISTORY_POINTS).
SLOWER = {"CartPole": {**CARTPOLE["CartPole"], "num_envs": 4, "num_steps": 128}}


def history(agent: AgentHarness, **args: Any) -> dict[str, Any]:
    return agent.call("history", game="CartPole", **args)


def rows_past(agent: AgentHarness, n: int, **args: Any) -> dict[str, Any] | None:
    """The reply once it holds more than n rows, else None."""
    reply = history(agent, **args)
    return reply if len(reply["rows"]) > n else None


def check_shape(reply: dict[str, Any]) -> None:
    assert reply["columns"] == list(HISTORY_COLUMNS)
    times = [r[0] for r in reply["rows"]]
    assert times == sorted(set(times)) and len(times) <= HISTORY_POINTS
    assert all(len(r) == len(HISTORY_COLUMNS) for r in reply["rows"])
    assert reply["cursor"] == (times[-1] if times else None)
    assert all(m["kind"] in MARK_KINDS for m in reply["marks"])


def kinds(reply: dict[str, Any]) -> list[str]:
    return [m["kind"] for m in reply["marks"]]


def test_history_survives_agent_restart_reboot_and_resume(agent: AgentHarness) -> None:
    agent.write_config(games=SLOWER)
    agent.start()
    agent.call("add_game", game="CartPole")
    before = wait_for(lambda: rows_past(agent, 20), 90, "20 rows of CartPole")
    check_shape(before)
    assert kinds(before) == ["start"]
    assert before["diagnosis"] == [] and before["run"] == "main"

    agent.kill()  # the trainer trains on meanwhile; its files are the record
    agent.start()
    again = wait_for(lambda: rows_past(agent, len(before["rows"])), 60, "rows after restart")
    check_shape(again)
    assert again["rows"][0] == before["rows"][0]  # rebuilt from the trainer's files
    assert kinds(again) == ["start"]  # an agent restart is not a mark: nothing happened

    wait_for(lambda: agent.game("CartPole").get("checkpoint"), 60, "a checkpoint")
    cursor = history(agent)["cursor"]
    agent.kill()  # a reboot: the agent and its trainer go, the boot id changes
    agent.kill_trainers()
    agent.boot_file.write_text("boot-2\n")
    agent.start()
    resumed = wait_for(
        lambda: {"resume", "checkpoint_restored"} & set(kinds(history(agent))), 90, "a resume"
    )
    assert resumed
    after = wait_for(lambda: rows_past(agent, 3, after=cursor), 60, "rows after the reboot")
    full = history(agent)
    check_shape(full)
    assert full["rows"][0] == before["rows"][0]
    assert kinds(full)[:2] == ["start", "reboot"] and set(kinds(full)) & set(resumed)
    # The cursor: only newer rows, and exactly the full reply's tail.
    assert all(r[0] > cursor for r in after["rows"])
    assert after["rows"] == [r for r in full["rows"] if r[0] > cursor][: len(after["rows"])]
    assert all(m["time"] > cursor for m in after["marks"])


def test_bad_requests_are_refused_and_change_nothing_and_the_cli(agent: AgentHarness) -> None:
    agent.write_config(games=CARTPOLE)
    agent.start()
    agent.call("add_game", game="CartPole")
    wait_for(lambda: rows_past(agent, 5), 90, "rows of CartPole")
    games_before = _games(agent)
    bad: list[tuple[dict[str, Any], str, str]] = [
        ({"game": "Pongo"}, "unknown_game", "unknown game 'Pongo'"),
        ({"game": "Pong"}, "not_found", "Pong is not on this host"),
        ({"game": "CartPole", "run": "side"}, "invalid", "run must be one of main, trial"),
        ({"game": "CartPole", "after": "x"}, "bad_request", "after"),
        ({"game": "CartPole", "after": True}, "bad_request", "after"),
        ({"game": "CartPole", "limit": 5}, "bad_request", "limit"),
        ({"game": "CartPole", "run": "trial"}, "not_found", "no beside trial"),
    ]
    for args, code, text in bad:
        with pytest.raises(OpFailed) as failed:
            agent.call("history", **args)
        assert failed.value.code == code and text in failed.value.message, args
    assert _games(agent) == games_before
    _check_cli(agent)


def _check_cli(agent: AgentHarness) -> None:
    """--json, --csv, the text, and the CLI's refusals (exit 2, a clear line)."""
    done = agent.cli("history", "CartPole", "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    check_shape(reply)
    done = agent.cli("history", "CartPole", "--csv")
    assert done.returncode == 0, done.stderr
    table = list(csv.reader(io.StringIO(done.stdout)))
    assert table[0] == list(HISTORY_COLUMNS)
    assert len(table) - 1 >= len(reply["rows"]) and all(
        len(r) == len(HISTORY_COLUMNS) for r in table[1:]
    )
    assert float(table[1][0]) == reply["rows"][0][0]
    done = agent.cli("history", "CartPole")
    assert done.returncode == 0 and "CartPole (main run)" in done.stdout
    assert "started fresh" in done.stdout and "nothing looks wrong" in done.stdout
    for argv, text in [
        (("history", "Pongo", "--csv"), "unknown game 'Pongo'"),
        (("history", "CartPole", "--trial"), "CartPole has no beside trial"),
        (("history", "CartPole", "--json", "--csv"), "not allowed with argument"),
    ]:
        done = agent.cli(*argv)
        assert done.returncode == 2 and text in done.stderr and not done.stdout, argv


def test_a_beside_trial_has_its_own_curve(agent: AgentHarness) -> None:
    agent.write_config(games=CARTPOLE)
    agent.start()
    agent.call("add_game", game="CartPole")
    wait_for(lambda: agent.game("CartPole").get("checkpoint"), 90, "a checkpoint")
    agent.call("trial", game="CartPole", settings={"num_envs": 4}, minutes=5.0, mode="beside")
    trial = wait_for(lambda: rows_past(agent, 3, run="trial"), 90, "rows of the trial")
    check_shape(trial)
    assert trial["run"] == "trial" and kinds(trial)[0] == "resume"  # from the copied checkpoint
    main = history(agent)
    assert "trial_start" in kinds(main) and main["rows"][0][0] < trial["rows"][0][0]
    done = agent.cli("history", "CartPole", "--trial", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["run"] == "trial"


def _games(agent: AgentHarness) -> dict[str, Any]:
    return {
        name: (g["wanted"], g["settings"], g["restarts"])
        for name, g in agent.call("status")["games"].items()
    }


OWN_TRAINER = """\
import json, sys, time
path = sys.argv[1] + "/metrics.jsonl"
with open(path, "a") as out:
    t = time.time()
    out.write(json.dumps({"time": t, "kind": "start", "global_step": 0,
                          "settings": {"clip_coef": 0.1}, "resumed_from": None}) + "\\n")
    for i in range(1, 31):  # PPO gone wild: approx KL 0.5, five times its clip range
        out.write(json.dumps({"time": t + i / 100, "kind": "update", "global_step": 512 * i,
                              "charts/episodic_return_mean": 10.0 + i,
                              "losses/entropy": 1.0, "losses/approx_kl": 0.5}) + "\\n")
    out.flush()
    time.sleep(600)
"""


def test_a_trainer_of_your_own_gets_its_curve_diagnosed(agent: AgentHarness) -> None:
    script = agent.root / "own_trainer.py"
    script.write_text(OWN_TRAINER)
    command = [sys.executable, str(script), "{run_dir}"]
    agent.write_config(games={"Breakout": {"command": command}})
    agent.start()
    agent.call("add_game", game="Breakout")
    found = wait_for(lambda: agent.game("Breakout").get("diagnosis"), 30, "a diagnosis")
    assert [d["code"] for d in found] == ["kl_high"]
    assert "approx KL 0.5" in found[0]["message"] and "clip range 0.1" in found[0]["message"]
    reply = agent.call("history", game="Breakout")
    assert reply["diagnosis"] == found and len(reply["rows"]) == 30
    at = {c: i for i, c in enumerate(HISTORY_COLUMNS)}
    assert reply["rows"][0][at["sps"]] is None  # what it did not write stays null
    done = agent.cli("status")
    assert done.returncode == 0 and "looks wrong: approx KL 0.5" in done.stdout
