"""The host's own policies and a part of a job over several hosts (issue 19.4): the queue
starts a waiting part with its own settings and span, never with the freed slot's shape
on this node alone, and `rollback` of a part is refused, saying how, changing nothing.
The part here is node 1 of a job whose node 0 does not answer: it waits (spannet), so
no torchrun starts."""

from __future__ import annotations

import time
from typing import Any

from controlroom import protocol
from controlroom.agent.hostcli.client import OpFailed
from controlroom.agent.policy import migration
from tests.agent.harness import AgentHarness, wait_for
from tests.agent.test_span_job import JOB_ID, free_port, span_settings
from tests.policy.conftest import POLICY_CONFIG


def events(h: AgentHarness, kind: str) -> list[dict[str, Any]]:
    return [e for e in h.call("events", limit=200)["events"] if e["kind"] == kind]


def test_the_queue_starts_a_part_with_its_own_shape_and_span(policy_agent: AgentHarness) -> None:
    h, port = policy_agent, free_port()
    part = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in span_settings(1, port).items())
    text = POLICY_CONFIG.format(ramp="false", cartpole_target=40).replace(
        "[games.Pong]\ntarget_episodes = 100000",
        f"[games.Pong]\ntarget_episodes = 100000\nnum_envs = 4\n{part}",
    )
    h.config_path.write_text(text)
    h.start()
    h.call("apply_profile", name="solo")  # CartPole runs with 2 envs; Pong waits
    wait_for(lambda: h.game("CartPole").get("state") == "done", 120, "CartPole's target")
    wait_for(lambda: h.game("Pong").get("wanted"), 30, "Pong to start from the queue")
    pong = h.game("Pong")
    assert pong["settings"]["num_envs"] == 4  # not the slot's 2
    assert pong["span"]["node_rank"] == 1 and pong["settings"]["nodes"] == 2
    [started] = events(h, "queue_started")
    assert (
        f"keeps its own settings: part of a job over 2 hosts (node 1 of job {JOB_ID})"
        in (started["message"])
    )
    assert started["data"]["settings"]["num_envs"] == 4


def test_rollback_of_a_part_is_refused_saying_how(agent: AgentHarness) -> None:
    agent.start()
    agent.call("add_game", game="CartPole", settings=span_settings(1, free_port()))
    before = agent.game("CartPole")
    alone = {**before["settings"], "nodes": 1, "node_rank": 0, "rendezvous": "", "job_id": ""}
    meta = protocol.SnapshotMeta(
        game="CartPole", time=time.time(), reason="migrate", settings=alone, wanted=True
    )
    migration.take(agent.state_dir, agent.state_dir / "runs" / "CartPole", meta)
    try:
        agent.call("rollback", game="CartPole")
        raise AssertionError("rollback of a part was accepted")
    except OpFailed as exc:
        text = str(exc)
    assert f"CartPole is node 1 of job {JOB_ID} over 2 hosts" in text
    assert "nothing changed" in text and "controlroom agent add CartPole --nodes 1" in text
    after = agent.game("CartPole")
    assert after["settings"] == before["settings"] and after["span"] == before["span"]
    assert len(migration.snapshots(agent.state_dir, "CartPole")) == 1
    cli = agent.cli("rollback", "CartPole")
    assert cli.returncode != 0 and "Span hosts" in cli.stderr
    assert not events(agent, "rolled_back")
