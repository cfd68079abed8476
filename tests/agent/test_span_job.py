"""One game over two hosts: two real agents on loopback (two state dirs, two unix
sockets), each running its part of one torchrun job through the c10d rendezvous on
127.0.0.1 (gloo on this CPU). The job has world size 2, rank 0's checkpoints land on
node 0, kill -9 of the other agent's rank restarts the job from the checkpoint, and span
settings that do not make one job are refused, changing nothing."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import pytest

from controlroom.agent.hostcli.client import OpFailed
from controlroom.agent.hostcli.show import status_text
from controlroom.agent.supervision import spannet
from controlroom.agent.supervision.job import torchrun_argv
from controlroom.agent.supervision.launch import trainer_argv, trainer_env
from controlroom.protocol import JobSpan, State
from controlroom.span import NODE_RANK_ENV, Span
from tests.agent.harness import CARTPOLE_FLAGS, AgentHarness, wait_for
from tests.agent.test_supervise import start_lines
from tests.gamestates import game_state

JOB_ID = "cartpole-span"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def span_settings(node_rank: int, port: int) -> dict[str, Any]:
    return {
        "nodes": 2,
        "node_rank": node_rank,
        "rendezvous": f"127.0.0.1:{port}",
        "job_id": JOB_ID,
    }


@pytest.fixture
def two_agents(tmp_path: Path) -> Iterator[tuple[AgentHarness, AgentHarness]]:
    """Node 0 and node 1: two real agents on this machine."""
    roots = [tmp_path / "node0", tmp_path / "node1"]
    for root in roots:
        root.mkdir()
    agents = (AgentHarness(roots[0]), AgentHarness(roots[1]))
    try:
        yield agents
    finally:
        for agent in agents:
            agent.close()


def rank_procs(agent: AgentHarness) -> list[psutil.Process]:
    """The agent's ranks: torchrun's children, in its run dir."""
    g = agent.game("CartPole")
    if not g.get("pid"):
        return []
    try:
        return psutil.Process(g["pid"]).children()
    except psutil.Error:
        return []


def part_running(agent: AgentHarness) -> dict[str, Any] | None:
    g = agent.game("CartPole")
    return g if g.get("state") == "running" and rank_procs(agent) else None


def test_a_part_on_each_host_is_torchrun_with_the_c10d_rendezvous(tmp_path: Path) -> None:
    settings = CARTPOLE_FLAGS
    single = trainer_argv("CartPole", settings, tmp_path)
    host = trainer_argv("CartPole", {**settings, **span_settings(0, 29400)}, tmp_path)
    other = trainer_argv("CartPole", {**settings, **span_settings(1, 29400)}, tmp_path)
    span = Span(2, 0, "127.0.0.1:29400", JOB_ID)
    assert host == torchrun_argv(1, single[3:], span, "127.0.0.1")
    rendezvous = ["--nnodes", "2", "--rdzv-backend", "c10d", "--rdzv-endpoint"]
    assert host[3:8] == rendezvous and "--standalone" not in host
    assert host[8:13] == ["127.0.0.1:29400", "--rdzv-id", JOB_ID, "--rdzv-conf", "is_host=true"]
    assert other[12] == "is_host=false"
    assert host[13:15] == ["--local-addr", "127.0.0.1"]
    # The node rank and loopback's interface, for gloo and NCCL.
    env = trainer_env([], span)
    assert env == {NODE_RANK_ENV: "0", "GLOO_SOCKET_IFNAME": "lo", "NCCL_SOCKET_IFNAME": "lo"}
    # A name is looked up off the loop, by spannet.probe (test_span_preflight.py).
    assert spannet.local_address(Span(2, 1, "localhost:29400", JOB_ID)) is None


def test_one_job_over_two_agents_restarts_from_node_0s_checkpoint(
    two_agents: tuple[AgentHarness, AgentHarness],
) -> None:
    node0, node1 = two_agents
    port = free_port()
    for agent in two_agents:
        agent.start()
    # Node 1 first: its part waits at the rendezvous for node 0's.
    node1.call("add_game", game="CartPole", settings=span_settings(1, port))
    node0.call("add_game", game="CartPole", settings=span_settings(0, port))
    run0, run1 = (a.state_dir / "runs" / "CartPole" for a in two_agents)

    wait_for(lambda: part_running(node0) and part_running(node1), 120, "both parts running")
    first = wait_for(lambda: start_lines(run0), 60, "rank 0's start line")[0]
    assert first["settings/world_size"] == 2
    states = node0.game("CartPole"), node1.game("CartPole")
    assert [s["span"]["ranks"] for s in states] == [[0], [1]]
    assert all(s["span"]["world_size"] == 2 and s["span"]["nodes"] == 2 for s in states)
    assert all(s["span"]["rendezvous"] == f"127.0.0.1:{port}" for s in states)
    checkpoint = wait_for(lambda: node0.game("CartPole").get("checkpoint"), 90, "a checkpoint")
    assert json.loads((run0 / "checkpoints" / "latest.json").read_text())["global_step"] > 0
    assert not (run1 / "checkpoints").exists()  # node 1's rank writes nothing
    with pytest.raises(OpFailed, match="beside trial cannot run"):  # it would join the job
        node0.call("trial", game="CartPole", settings={"num_envs": 4}, minutes=1, mode="beside")

    # kill -9 of node 1's rank: its torchrun ends, node 0's rank loses its peer: both
    # agents restart their parts, and the job resumes from node 0's checkpoint.
    old_pids = [node0.game("CartPole")["pid"], node1.game("CartPole")["pid"]]
    rank_procs(node1)[0].kill()
    wait_for(lambda: len(start_lines(run0)) >= 2, 180, "the job's second start")
    resumed = start_lines(run0)[-1]
    assert resumed["resumed_from"] and resumed["global_step"] >= checkpoint["global_step"]
    assert resumed["settings/world_size"] == 2

    # Each agent records its own part's restart, node 1's after it waited for node 0 to
    # answer again (a crash's start after a wait is still a restart).
    def both_restarted() -> bool:
        again = [node0.game("CartPole"), node1.game("CartPole")]
        return all(g["restarts"] >= 1 and g["pid"] not in old_pids for g in again)

    wait_for(both_restarted, 60, "both agents to record their part's restart, new pids")
    kinds = [e["kind"] for e in node1.call("events", limit=50)["events"]]
    assert "crash" in kinds and "restart" in kinds

    # Stopped on node 0, the job ends node 1's part with exit 0 too: not its target, so
    # node 1 waits at the rendezvous again instead of calling the game done.
    wait_for(lambda: part_running(node0) and part_running(node1), 120, "both parts again")
    node0.call("stop_game", game="CartPole")
    wait_for(lambda: _said(node1, "stopped by a signal from outside"), 60, "node 1's part ended")
    assert node1.game("CartPole")["state"] != "done"


def test_two_nodes_given_one_node_rank_end_the_job_refused_on_every_node(
    tmp_path: Path,
) -> None:
    """Nodes 0, 1, 1 of a job of 3 (node 2 on none): the rendezvous forms, the ranks see
    the clash when they meet, and every part exits 2 naming the duplicate, so each
    agent puts the game in crash_loop with that line instead of waiting for ever."""
    roots = [tmp_path / f"node{i}" for i in range(3)]
    for root in roots:
        root.mkdir()
    agents = [AgentHarness(root) for root in roots]
    port = free_port()
    try:
        for agent in agents:
            agent.start()
        for agent, node_rank in zip(agents, (1, 1, 0), strict=True):
            part = {**span_settings(node_rank, port), "nodes": 3}
            agent.call("add_game", game="CartPole", settings=part)
        for agent in agents:
            g = wait_for(partial(_refused, agent), 90, "each part refused")
            assert "node_rank 1 is given to 2 nodes" in g["last_exit"], g["last_exit"]
            assert g["restarts"] == 0
    finally:
        for agent in agents:
            agent.close()


def _refused(agent: AgentHarness) -> dict[str, Any] | None:
    g = agent.game("CartPole")
    return g if g.get("state") == "crash_loop" else None


HANG_TIMEOUT_S = 20.0  # above a part's start and rendezvous on 2 busy cores (~10 s)


@pytest.mark.slow
def test_a_rank_hung_on_node_1_is_seen_on_node_0_and_the_job_comes_back(
    two_agents: tuple[AgentHarness, AgentHarness],
) -> None:
    """SIGSTOP of node 1's rank: node 0's rank 0 waits in its all-reduce and holds its
    heartbeats, node 0's agent calls the part hung and restarts it, node 1's torchrun
    loses the rendezvous store and ends its part, and the job resumes from node 0's
    checkpoint. Short timings: the agents' hang timeout, and torchrun's grace for ranks
    that ignore SIGTERM (a stopped rank ignores it), which the agents derive from their
    stop_grace_s (job.rank_grace_s: 2 s of 4)."""
    node0, node1 = two_agents
    port = free_port()
    for agent in two_agents:
        agent.write_config(agent={"hang_timeout_s": HANG_TIMEOUT_S, "stop_grace_s": 4.0})
        agent.start()
    node1.call("add_game", game="CartPole", settings=span_settings(1, port))
    node0.call("add_game", game="CartPole", settings=span_settings(0, port))
    run0 = node0.state_dir / "runs" / "CartPole"
    wait_for(lambda: part_running(node0) and part_running(node1), 60, "both parts running")
    checkpoint = wait_for(lambda: node0.game("CartPole").get("checkpoint"), 60, "a checkpoint")

    stopped = rank_procs(node1)[0]
    stopped.suspend()
    try:
        wait_for(lambda: _said(node0, "no metrics for"), 2 * HANG_TIMEOUT_S, "node 0's hang")
        wait_for(lambda: len(start_lines(run0)) >= 2, 40, "the job's second start")
    finally:
        if stopped.is_running():
            stopped.kill()
    resumed = start_lines(run0)[-1]
    assert resumed["resumed_from"] and resumed["global_step"] >= checkpoint["global_step"]
    assert resumed["settings/world_size"] == 2
    assert not stopped.is_running()  # node 1's torchrun ended the stopped rank
    wait_for(lambda: part_running(node0) and part_running(node1), 30, "both parts again")


def test_span_settings_that_make_no_job_are_refused(agent: AgentHarness) -> None:
    agent.start()
    refusals = {
        "rendezvous": {"nodes": 2, "job_id": JOB_ID},
        "job_id": {"nodes": 2, "rendezvous": "127.0.0.1:29400"},
        "node_rank": {**span_settings(0, 29400), "node_rank": 2},
    }
    for key, settings in refusals.items():
        result = agent.cli("add", "CartPole", *_flags(settings), "--json")
        assert result.returncode == 2, result.stdout + result.stderr
        assert key in result.stderr, result.stderr
    bad_wire = {"rendezvous": "127.0.0.1", "job_id": "two words", "nodes": 65}
    for key, value in bad_wire.items():
        result = agent.cli("add", "CartPole", *_flags({key: value}))
        assert result.returncode == 2 and key in result.stderr, result.stderr
    assert agent.call("status")["games"] == {}  # nothing changed
    added = json.loads(
        agent.cli("add", "CartPole", *_flags(span_settings(1, 29400)), "--json").stdout
    )
    assert added["game"]["span"]["ranks"] == [1]
    agent.call("stop_game", game="CartPole")


def test_scale_on_the_host_leaves_a_part_of_a_job_alone_unless_told(
    agent: AgentHarness,
) -> None:
    """`agent scale` of one part would leave the job's nodes out of step: refused with
    what to do instead, unless --this-node says the other nodes will follow."""
    agent.start()
    agent.call("add_game", game="CartPole", settings=span_settings(1, free_port()))
    envs = agent.game("CartPole")["settings"]["num_envs"]
    refused = agent.cli("scale", "CartPole", "--num-envs", str(2 * envs))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"node 1 of job {JOB_ID} over 2 hosts" in refused.stderr
    assert "--this-node" in refused.stderr and "nothing changed" in refused.stderr
    assert agent.game("CartPole")["settings"]["num_envs"] == envs
    told = agent.cli("scale", "CartPole", "--num-envs", str(2 * envs), "--this-node")
    assert told.returncode == 0, told.stderr
    assert "scale every other node alike" in told.stdout
    assert agent.game("CartPole")["settings"]["num_envs"] == 2 * envs
    agent.call("stop_game", game="CartPole")


def _flags(settings: dict[str, Any]) -> list[str]:
    return [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]


def _said(agent: AgentHarness, words: str) -> bool:
    return any(words in e["message"] for e in agent.call("events", limit=50)["events"])


def test_agent_status_names_a_parts_place_in_the_job() -> None:
    """`controlroom agent status` (text, not only --json) says which part of which job
    this host runs, and what every node must name to join it."""
    part = JobSpan(
        nodes=2, node_rank=1, ranks=[2, 3], world_size=4, rendezvous="10.0.0.5:29400", job_id=JOB_ID
    )
    state = State(games={"Pong": game_state(game="Pong", span=part), "CartPole": game_state()})
    lines = status_text(state).splitlines()
    pong = next(i for i, line in enumerate(lines) if line.startswith("Pong"))
    assert lines[pong + 1] == (
        f"  job 2 nodes · node 1/2 · ranks 2-3 · world 4 · rendezvous 10.0.0.5:29400 · "
        f"job id {JOB_ID}"
    )
    assert not any("rendezvous" in line for line in lines[pong + 2 :])
