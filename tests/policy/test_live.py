"""The policies in a real agent with real (tiny) trainers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from controlroom import protocol
from controlroom.agent.hostcli.client import OpFailed
from controlroom.agent.policy.plan_math import downtime_share
from tests.agent.harness import AgentHarness, wait_for
from tests.policy.conftest import write_policy_config


def events(h: AgentHarness, kind: str) -> list[dict[str, Any]]:
    return [e for e in h.call("events", limit=500)["events"] if e["kind"] == kind]


def running(h: AgentHarness, game: str) -> bool:
    return h.game(game).get("state") == "running"


def ramp_view(h: AgentHarness) -> dict[str, Any]:
    ramp: dict[str, Any] = h.call("status")["policy"]["ramp"]
    return ramp


def test_guard_refuses_with_its_reason(policy_agent: AgentHarness) -> None:
    h = policy_agent
    h.start()
    with pytest.raises(OpFailed) as err:
        h.call("add_game", game="CartPole", settings={"num_envs": 128, "minibatch_size": 16})
    assert err.value.code == "refused"
    assert err.value.message == ("refused: total envs would be 128 > max_total_envs 64 (64 over)")
    assert events(h, "guard_refused")[-1]["message"] == err.value.message
    # A profile is weighed as a whole, and its dry run shows the same verdict.
    dry = h.call("apply_profile", name="both", dry_run=True)
    assert dry["verdict"] == "refused: total envs would be 128 > max_total_envs 64 (64 over)"
    assert [a["text"] for a in dry["actions"]] == [
        "start CartPole: 64 envs, 16 steps, minibatch 16",
        "start Pong: 64 envs, 16 steps, minibatch 16",
    ]
    with pytest.raises(OpFailed, match="profile both: refused: total envs"):
        h.call("apply_profile", name="both")
    assert h.call("status")["games"] == {}
    guard = h.call("status")["policy"]["guard"]
    assert guard["budgets"]["max_total_envs"] == 64 and guard["last_refusal"]


def test_ramp_steps_then_backs_off_after_reboot(policy_agent: AgentHarness) -> None:
    h = policy_agent
    write_policy_config(h, ramp=True)
    h.start()
    wait_for(lambda: running(h, "CartPole"), 60, "CartPole (ramp step 0) to run")
    view = ramp_view(h)
    assert view["step"] == 0 and view["enabled"]
    wait_for(lambda: ramp_view(h)["step"] == 1, 60, "the ramp to add Pong")
    assert h.game("Pong")["wanted"]
    [step] = events(h, "ramp_step")
    assert step["message"] == "ramp step 1: added Pong (2 games)"
    wait_for(lambda: running(h, "Pong"), 90, "Pong to run")
    # A simulated reboot: everything dies, the boot id changes, the agent starts again.
    h.kill()
    h.kill_trainers()
    h.boot_file.write_text("boot-2\n")
    h.start()
    view = wait_for(lambda: (v := ramp_view(h))["ceiling"] is not None and v, 30, "a ceiling")
    assert (view["step"], view["ceiling"], view["ceiling_games"]) == (0, 0, 1)
    assert view["phase"] == "at_ceiling" and view["next_action"] is None
    [ceiling] = events(h, "ramp_ceiling")
    assert ceiling["message"] == "reboot at ramp step 1: back to step 0, ceiling recorded"
    wait_for(lambda: running(h, "CartPole"), 60, "CartPole to resume")
    # The step was decided before the resume: Pong (above the ceiling) never started.
    pong = h.game("Pong")
    assert not pong["wanted"] and pong["pid"] is None
    [reboot] = events(h, "reboot")
    spawned = [
        e
        for e in h.call("events", limit=500)["events"]
        if e["game"] == "Pong"
        and e["kind"] in ("trainer_started", "restart", "adopted")
        and e["ts"] >= reboot["ts"]
    ]
    assert spawned == []
    assert events(h, "agent_started")[-1]["data"]["held_back"] == ["Pong"]
    # The ceiling survives an agent restart, and the plan sees the downtime.
    h.terminate()
    h.start()
    assert ramp_view(h)["ceiling"] == 0
    plan = h.call("plan")
    assert plan["downtime_share"] == pytest.approx(
        downtime_share(protocol.as_result(h.call("reboots"), protocol.Boots).boots)
    )
    assert plan["boots"] == 2
    # The host was fixed: forget the ceiling from the CLI; the ramp may climb again.
    cleared = h.cli("ramp", "reset-ceiling")
    assert cleared.returncode == 0, cleared.stderr
    assert "ceiling none" in cleared.stdout and ramp_view(h)["ceiling"] is None
    assert events(h, "ramp_ceiling")[-1]["message"] == (
        "ramp ceiling cleared (was step 0): the ramp may climb to its last step again"
    )


def progress(h: AgentHarness, game: str) -> dict[str, Any]:
    ck: dict[str, Any] = h.game(game).get("checkpoint") or {}
    return ck


def runs_of(h: AgentHarness, game: str) -> list[list[dict[str, Any]]]:
    """metrics.jsonl split at each trainer start: one list of lines per run."""
    path = h.state_dir / "runs" / game / "metrics.jsonl"
    runs: list[list[dict[str, Any]]] = []
    for text in path.read_text().splitlines():
        line = json.loads(text)
        if line.get("kind") == "start":
            runs.append([])
        if runs:
            runs[-1].append(line)
    return runs


def resumed_run(h: AgentHarness, game: str, n: int) -> tuple[dict[str, Any], int] | None:
    """Run n's start line and the step its first later line reports (counters restored)."""
    runs = runs_of(h, game)
    if len(runs) < n or len(runs[n - 1]) < 2:
        return None
    return runs[n - 1][0], int(runs[n - 1][1]["global_step"])


def test_migration_keeps_progress_and_rollback_restores(policy_agent: AgentHarness) -> None:
    h = policy_agent
    h.start()
    h.call("add_game", game="CartPole")
    wait_for(lambda: progress(h, "CartPole").get("episodes", 0) >= 20, 90, "episodes")
    result = h.call("migrate", game="CartPole", settings={"num_envs": 4})
    assert result["changed"] and result["snapshot"]
    assert result["game"]["settings"]["num_envs"] == 4
    snaps = sorted((h.state_dir / "snapshots" / "CartPole").iterdir())
    meta = json.loads((snaps[-1] / "meta.json").read_text())
    saved = meta["checkpoint"]
    assert meta["settings"]["num_envs"] == 2 and saved["episodes"] >= 20
    # The new trainer resumed from the final checkpoint: counters carried on.
    ckpt_name = f"ckpt-{saved['global_step']:012d}.pt"
    start, step = wait_for(lambda: resumed_run(h, "CartPole", 2), 60, "the restarted trainer")
    assert start["resumed_from"].endswith(ckpt_name)
    assert start["settings"]["num_envs"] == 4
    assert step >= saved["global_step"]
    [migrated] = events(h, "migrated")
    assert "num_envs 2 -> 4" in migrated["message"]
    later = saved["global_step"] + 2000
    wait_for(lambda: progress(h, "CartPole").get("global_step", 0) > later, 60, "progress")
    # Rollback: the snapshot's settings and progress (back before `later`).
    back = h.call("rollback", game="CartPole")
    assert back["game"]["settings"]["num_envs"] == 2
    start, step = wait_for(lambda: resumed_run(h, "CartPole", 3), 60, "the rolled-back trainer")
    assert start["resumed_from"].endswith(ckpt_name)
    assert start["settings"]["num_envs"] == 2
    assert saved["global_step"] <= step < later
    assert events(h, "rolled_back")


def test_queue_starts_the_next_game_at_target(policy_agent: AgentHarness) -> None:
    h = policy_agent
    write_policy_config(h, cartpole_target=40)
    h.start()
    applied = h.call("apply_profile", name="solo")
    assert [a["kind"] for a in applied["actions"]] == ["start"]
    assert h.call("status")["policy"]["queue"]["waiting"] == ["Pong"]
    plan = h.call("plan")
    assert [g["game"] for g in plan["host"]["games"]] == ["CartPole", "Pong"]
    wait_for(lambda: h.game("CartPole").get("state") == "done", 120, "CartPole's target")
    wait_for(lambda: h.game("Pong").get("wanted"), 30, "Pong to start from the queue")
    [started] = events(h, "queue_started")
    assert started["message"] == "Pong started in the slot CartPole freed"
    assert h.game("Pong")["settings"]["num_envs"] == 2
    assert h.call("status")["policy"]["queue"]["waiting"] == []


def test_trial_reports_side_by_side_and_returns(policy_agent: AgentHarness) -> None:
    h = policy_agent
    h.start()
    h.call("add_game", game="CartPole")
    wait_for(lambda: (h.game("CartPole").get("metrics") or {}).get("sps"), 60, "a measured rate")
    started = h.call("trial", game="CartPole", settings={"num_envs": 4}, minutes=0.15)
    assert started["trial"]["status"] == "running" and started["trial"]["snapshot"]
    assert h.game("CartPole")["settings"]["num_envs"] == 4

    def finished() -> dict[str, Any] | None:
        t: dict[str, Any] = h.call("status")["policy"]["trials"].get("CartPole") or {}
        return t if t.get("status") == "finished" else None

    trial = wait_for(finished, 90, "the trial to finish")
    rows = {r["figure"]: r for r in trial["comparison"]}
    assert rows["settings"]["current"]["num_envs"] == 2
    assert rows["settings"]["trial"]["num_envs"] == 4
    assert rows["sps"]["current"] and rows["sps"]["trial"]
    assert h.game("CartPole")["settings"]["num_envs"] == 2  # back, learning kept
    [done] = events(h, "trial_finished")
    assert "learning kept (rollback CartPole discards it)" in done["message"]
