"""One game over two hosts from the laptop (issue 14.3): two real agents on loopback, the
TUI linked to both, the palette's "Span hosts" on node 0's tab sends each agent its part (node rank, the
same job id and rendezvous address), and each host's tab shows its part of the job."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import TabbedContent

from controlroom import protocol
from controlroom.config import loads
from controlroom.link.local import open_local
from controlroom.tui import key_requests
from controlroom.tui.app import SPAN_HOSTS, ControlRoomApp, build_app
from controlroom.tui.screens.modals import PickScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.game_pane import GamePane
from controlroom.tui.widgets.host_view import HostView
from tests.agent.harness import AgentHarness
from tests.agent.harness import wait_for as agent_wait_for
from tests.agent.test_span_job import free_port, span_settings
from tests.agent.test_supervise import start_lines
from tests.link.realagent import RealAgent, wait_for
from tests.sshd import SshServer
from tests.tui.test_live import SIZE, make_app

pytestmark = pytest.mark.slow


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[AgentHarness]]:
    """Two real agents; node 0 trains CartPole on its own."""
    agents = []
    try:
        for name in ("node0", "node1"):
            (tmp_path / name).mkdir()
            agents.append(AgentHarness(tmp_path / name))
            agents[-1].start()
        agents[0].call("add_game", game="CartPole")
        yield agents
    finally:
        for agent in agents:
            agent.close()


def pane_text(app: ControlRoomApp, index: int | None = None) -> str:
    """The first pane's text on host tab `index` (None: the one host's)."""
    where = app if index is None else app.query_one(f"#tab-{index}")
    panes = list(where.query_one(HostView).query(GamePane))
    return str(panes[0].render()) if panes else ""


async def test_the_span_key_starts_one_job_on_two_hosts_shown_on_each_tab(
    nodes: list[AgentHarness],
) -> None:
    rendezvous = f"127.0.0.1:{free_port()}"
    config = loads(f'[hosts.node0]\nrendezvous = "{rendezvous}"\n')
    targets = [
        HostTarget(f"node{i}", partial(open_local, str(a.state_dir / "agent.sock")))
        for i, a in enumerate(nodes)
    ]
    app = build_app(targets, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#tabs", TabbedContent).active = "tab-0"
        await wait_for(lambda: "envs" in pane_text(app, 0), what="node 0's CartPole pane")
        await wait_for(lambda: app.query_one("#tab-1").query_one(HostView).state is not None)
        await pilot.press("ctrl+p")  # the fleet's command, in the palette
        await wait_for(lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*SPAN_HOSTS)
        commands = app.screen.query_one(CommandList)
        await wait_for(lambda: commands.option_count > 0, what="palette matches")
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, PickScreen), what="the host picker")
        await pilot.press("enter")  # node1, the only other linked host
        await wait_for(lambda: "node 0/2" in pane_text(app, 0), 120, "node 0's part")
        await wait_for(lambda: "node 1/2" in pane_text(app, 1), 120, "node 1's part")
        assert "job 2 nodes · node 0/2 · rank 0" in pane_text(app, 0)
        assert "job 2 nodes · node 1/2 · rank 1" in pane_text(app, 1)
    parts = [a.game("CartPole")["settings"] for a in nodes]
    assert {p["job_id"] for p in parts} == {"CartPole-node0-node1"}
    assert [p["rendezvous"] for p in parts] == [rendezvous, rendezvous]
    assert parts[1]["num_envs"] == parts[0]["num_envs"]  # node 0's shape travelled


def test_span_requests_send_node_0s_shape_and_one_job_id() -> None:
    game = protocol.GameState(
        game="Pong",
        env_id="Pong-v5",
        wanted=True,
        state=protocol.GameStatus.RUNNING,
        settings={"num_envs": 16, "num_steps": 64, "minibatch_size": 256, "gpus": [2, 5]},
        world_size=2,
    )
    (first, one), (second, zero) = key_requests.span_requests(game, "tnr 0", "tnr-1", "h:1")
    assert (first, second) == ("tnr-1", "tnr 0")  # node 1 first: it waits for node 0
    assert one == {
        "num_envs": 16,
        "num_steps": 64,
        "minibatch_size": 256,
        "gpus": 2,
        "nodes": 2,
        "node_rank": 1,
        "rendezvous": "h:1",
        "job_id": "Pong-tnr-0-tnr-1",
    }
    assert zero == {"nodes": 2, "node_rank": 0, "rendezvous": "h:1", "job_id": "Pong-tnr-0-tnr-1"}
    protocol.check_settings(one)  # what the agent's edge accepts


async def test_a_parts_span_travels_the_ssh_link(sshd: SshServer, agent: RealAgent) -> None:
    """Through the real sshd: the agent's answer for its ranks reaches the pane."""
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE):
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        part = span_settings(1, free_port())  # node 0 never comes: it waits, harmless
        await view.request("add_game", game="CartPole", settings=part)
        try:
            await wait_for(lambda: "node 1/2 · rank 1" in pane_text(app), what="the span")
        finally:
            await view.request("remove_game", game="CartPole")


@pytest.fixture
def job(tmp_path: Path) -> Iterator[list[AgentHarness]]:
    """Two real agents running one CartPole job over both (node 1's part added first)."""
    agents = []
    port = free_port()
    try:
        for name in ("node0", "node1"):
            (tmp_path / name).mkdir()
            agents.append(AgentHarness(tmp_path / name))
            agents[-1].start()
        for node_rank in (1, 0):
            agents[node_rank].call(
                "add_game", game="CartPole", settings=span_settings(node_rank, port)
            )
        yield agents
    finally:
        for agent in agents:
            agent.close()


def linked(agents: list[AgentHarness]) -> ControlRoomApp:
    targets = [
        HostTarget(f"node{i}", partial(open_local, str(a.state_dir / "agent.sock")))
        for i, a in enumerate(agents)
    ]
    return build_app(targets, config=loads(""))


async def test_a_scale_key_on_node_0_changes_every_part_and_the_job_runs_again(
    job: list[AgentHarness],
) -> None:
    run0 = job[0].state_dir / "runs" / "CartPole"
    envs = job[0].game("CartPole")["settings"]["num_envs"]
    await wait_for(lambda: len(start_lines(run0)) >= 1, 120, "the job's first start")
    app = linked(job)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one("#tabs", TabbedContent).active = "tab-0"
        await wait_for(lambda: "node 0/2" in pane_text(app, 0), what="node 0's part")
        await wait_for(lambda: "node 1/2" in pane_text(app, 1), what="node 1's part")
        await pilot.press("plus")  # on node 0's tab
        await wait_for(lambda: _envs(job[0]) == 2 * envs, 30, "node 0 scaled")
        assert _envs(job[1]) == 2 * envs  # node 1 too, and before node 0
        done = f"node1 and node0: CartPole: {2 * envs} envs"
        await wait_for(lambda: any(n.message == done for n in app._notifications), what=done)
    scaled = wait_for_start(run0, 2 * envs)
    assert scaled["settings/world_size"] == 2  # the job formed again, both parts alike

    def both_running() -> bool:
        return all(a.game("CartPole")["state"] == "running" for a in job)

    agent_wait_for(both_running, 30, "both parts running again")


def _envs(agent: AgentHarness) -> int:
    return int(agent.game("CartPole")["settings"]["num_envs"])


def wait_for_start(run_dir: Path, envs: int) -> dict[str, Any]:
    """Rank 0's start line of a job of `envs` envs per rank."""

    def found() -> dict[str, Any] | None:
        lines = [x for x in start_lines(run_dir) if x["settings"]["num_envs"] == envs]
        return lines[-1] if lines else None

    return agent_wait_for(found, 60, f"a start with {envs} envs")


async def test_a_change_to_a_part_whose_other_node_is_not_linked_changes_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "node0").mkdir()
    node0 = AgentHarness(tmp_path / "node0")
    try:
        node0.start()  # node 1 never comes: node 0's part waits at the rendezvous
        node0.call("add_game", game="CartPole", settings=span_settings(0, free_port()))
        before = node0.game("CartPole")["settings"]
        app = linked([node0])
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: "node 0/2" in pane_text(app), what="node 0's part")
            for key in ("plus", "g"):
                await pilot.press(key)
                await pilot.pause()
            said = [n.message for n in app._notifications]
            missing = [m for m in said if "node 1 is on no linked host" in m]
            assert len(missing) == 2 and "nothing changed" in missing[0], said
            assert not isinstance(app.screen, PickScreen)  # g refused before its picker
        assert node0.game("CartPole")["settings"] == before
    finally:
        node0.close()


def test_job_parts_go_node_1_first_and_node_0_last_or_nowhere() -> None:
    def part(node_rank: int, job_id: str = "j") -> protocol.State:
        span = protocol.JobSpan(
            nodes=3,
            node_rank=node_rank,
            ranks=[node_rank],
            world_size=3,
            rendezvous="h:1",
            job_id=job_id,
        )
        game = protocol.GameState(
            game="Pong",
            env_id="Pong-v5",
            wanted=True,
            state=protocol.GameStatus.RUNNING,
            settings={},
            span=span,
        )
        return protocol.State(games={"Pong": game})

    here = part(1).games["Pong"]
    fleet = {"a": part(0), "b": part(2), "c": part(0, "other")}
    parts = key_requests.job_parts("me", here, fleet)
    assert parts == [("me", "Pong"), ("b", "Pong"), ("a", "Pong")]
    with pytest.raises(
        key_requests.PartMissing, match=r"node 2 is on no linked host \(link down: b\)"
    ):
        key_requests.job_parts("me", here, {"a": part(0), "b": None})
    alone = msgspec.structs.replace(here, span=None)
    assert key_requests.job_parts("me", alone, {}) == [("me", "Pong")]
    assert key_requests.gpus_for_part([2, 5], here=False) == 2
    assert key_requests.gpus_for_part([2, 5], here=True) == [2, 5]
