"""The policy commands of the host CLI (`controlroom agent apply|ramp|migrate|...`)
through a real agent: what they print, their exit codes, and that a dry run or a bad
request changes nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec

from controlroom import protocol
from controlroom.agent.hostcli import show
from tests.agent.harness import AgentHarness, wait_for
from tests.policy.test_live import runs_of


def test_dry_run_plan_status_and_bad_requests(policy_agent: AgentHarness) -> None:
    h = policy_agent
    h.start()
    dry = h.cli("apply", "solo", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "profile solo (dry run: nothing changed): 2 envs in all",
        "  start CartPole: 2 envs, 16 steps, minibatch 16",
        "guard: allowed",
    ]
    too_big = h.cli("apply", "both", "--dry-run")
    assert too_big.returncode == 3
    assert "guard: refused: total envs would be 128 > max_total_envs 64 (64 over)" in too_big.stdout
    refused = h.cli("apply", "both")
    assert refused.returncode == 3
    assert refused.stderr.strip().splitlines() == [
        "controlroom agent: profile both: refused: total envs would be 128 > max_total_envs 64 "
        "(64 over)"
    ]
    unknown = h.cli("apply", "huge")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "controlroom agent: no profile 'huge'; known: solo, both"
    for args in (
        ("migrate", "CartPole"),
        ("migrate", "CartPole", "--num-envs", "4"),
        ("rollback", "Pong"),
        ("queue", "Tetris"),
        ("queue", "Pong", "Pong"),
        ("queue", "Pong", "--clear"),
        ("ramp", "sideways"),
        ("trial", "CartPole", "--num-envs", "4"),
        ("guard", "max_total_envs"),
        ("guard", "max_total_envs=-1"),
        ("guard", "nosuch=1"),
        ("guard", "max_trainers=["),
    ):
        done = h.cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) >= 1, args
    state = h.call("status")
    assert state["games"] == {} and not h.trainers()  # nothing above changed anything
    assert state["policy"]["queue"]["waiting"] == []
    text = h.cli("status").stdout
    assert "profile: -" in text and "ramp: off, step 0/1 (CartPole), ceiling none" in text
    assert "guard: envs 0/64  trainers 0/4  GPU mem 0%/50%  GPU temp -/83C" in text
    assert "queue: empty (0 free slots)" in text
    queued = h.cli("queue", "Pong", "CartPole")
    assert queued.stdout.strip() == "queue: Pong, CartPole (0 free slots)"
    assert h.cli("queue").stdout.strip() == "queue: Pong, CartPole (0 free slots)"
    assert h.cli("queue", "--clear").stdout.strip() == "queue: empty (0 free slots)"
    plan = h.cli("plan")
    assert plan.returncode == 0
    lines = plan.stdout.splitlines()
    assert lines[0].split() == ["GAME", "EPISODES", "EPS/H", "TO", "TARGET"]
    assert any(line.startswith("host at $2/h, downtime 0% over 1 boots") for line in lines)
    assert [line.split()[0] for line in lines if line.startswith(("solo ", "both "))] == [
        "solo",
        "both",
    ]
    assert json.loads(h.cli("plan", "--json").stdout)["boots"] == 1
    shown = h.cli("guard").stdout.splitlines()
    assert "max_total_envs = 64" in shown and "max_trainers = 4" in shown
    raised = h.cli("guard", "max_total_envs=128", "max_host_ram_fraction=0.95")
    assert raised.returncode == 0, raised.stderr
    assert {"max_total_envs = 128", "max_host_ram_fraction = 0.95"} <= set(
        raised.stdout.splitlines()
    )
    assert h.cli("apply", "both", "--dry-run").returncode == 0  # the new budget allows it


def test_apply_migrate_rollback_and_a_discarded_trial(policy_agent: AgentHarness) -> None:
    h = policy_agent
    h.start()
    applied = h.cli("apply", "solo")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[-1] == "applied profile solo (the ramp is off)"
    assert "queue: Pong (0 free slots)" in h.cli("status").stdout
    wait_for(lambda: _checkpoint(h).get("episodes", 0) >= 5, 90, "CartPole to learn a little")
    migrated = h.cli("migrate", "CartPole", "--num-envs", "4")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("CartPole: migrated to 4 envs x 16 steps, minibatch 16")
    assert h.game("CartPole")["settings"]["num_envs"] == 4
    back = h.cli("rollback", "CartPole")
    assert back.returncode == 0, back.stderr
    assert back.stdout.startswith("CartPole: rolled back to snapshot ")
    assert h.game("CartPole")["settings"]["num_envs"] == 2
    wait_for(lambda: h.game("CartPole").get("state") == "running", 60, "CartPole running again")
    wait_for(lambda: _checkpoint(h).get("global_step"), 60, "a checkpoint")
    trial = h.cli("trial", "CartPole", "--num-envs", "4", "--minutes", "0.1", "--discard")
    assert trial.returncode == 0, trial.stderr
    assert "-> 4 envs x 16 steps, minibatch 16 until" in trial.stdout
    assert trial.stdout.rstrip().endswith("then back, learning discarded")
    snap = h.call("status")["policy"]["trials"]["CartPole"]["snapshot"]
    before = _snapshot_step(h, snap)
    done = wait_for(lambda: _finished_trial(h), 90, "the trial to finish")
    assert done["discarded"] and done["outcome"] == f"learning discarded (back to snapshot {snap})"
    assert h.game("CartPole")["settings"]["num_envs"] == 2
    # The trainer after the trial resumed from the checkpoint taken before it.
    start = wait_for(lambda: _start_after(h, done["ended_at"]), 60, "the trainer after the trial")
    assert start["resumed_from"].endswith(f"ckpt-{before:012d}.pt")
    assert "learning discarded" in h.cli("status").stdout


def test_ramp_text_shows_the_next_action_and_when() -> None:
    view = protocol.RampView(
        enabled=True,
        phase="waiting",
        step=0,
        steps=3,
        games=["MsPacman", "Pong"],
        ceiling=None,
        ceiling_games=None,
        hold=None,
        next_action="add Asteroids",
        next_action_at=time.time() + 125,
    )
    text = show.ramp_text(view)
    assert text.startswith(
        "ramp: waiting, step 0/2 (MsPacman, Pong), ceiling none; next: add Asteroids at "
    )
    assert text.endswith("(in 2m04s)") or text.endswith("(in 2m05s)")
    held = show.ramp_text(
        msgspec.structs.replace(
            view,
            phase="at_ceiling",
            ceiling=0,
            ceiling_games=2,
            next_action=None,
            next_action_at=None,
        )
    )
    assert held == "ramp: at_ceiling, step 0/2 (MsPacman, Pong), ceiling step 0 (2 games)"


def _checkpoint(h: AgentHarness) -> dict[str, Any]:
    ck: dict[str, Any] = h.game("CartPole").get("checkpoint") or {}
    return ck


def _snapshot_step(h: AgentHarness, name: str) -> int:
    meta = json.loads((h.state_dir / "snapshots" / "CartPole" / name / "meta.json").read_text())
    return int(meta["checkpoint"]["global_step"])


def _finished_trial(h: AgentHarness) -> dict[str, Any] | None:
    t: dict[str, Any] = h.call("status")["policy"]["trials"].get("CartPole") or {}
    return t if t.get("status") == "finished" else None


def _start_after(h: AgentHarness, ts: float) -> dict[str, Any] | None:
    starts = [run[0] for run in runs_of(h, "CartPole") if run and run[0]["time"] >= ts - 1]
    return starts[-1] if starts else None
