"""Before a part of a job over several hosts starts, its agent asks the network, off the
event loop: node 0's address is looked up in a thread (a host name is never resolved on
the loop), and a part other than node 0's knocks on the rendezvous port. No node 0 is
said within seconds ("waiting for node 0 at ADDR:PORT") and the part waits, starting
when node 0 answers, instead of torchrun trying for ~90 s and the part crash-looping.
torchrun gives its ranks less time to stop than the agent gives torchrun."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlroom.agent.supervision import spannet
from controlroom.agent.supervision.job import rank_grace_s
from controlroom.agent.supervision.launch import trainer_argv
from controlroom.span import Span
from tests.agent.harness import CARTPOLE_FLAGS, AgentHarness, wait_for
from tests.agent.test_span_job import JOB_ID, free_port, span_settings


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port on loopback that accepts (node 0's store, as far as a knock can tell)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s


def test_a_name_is_looked_up_off_the_loop_and_a_missing_node_0_is_said(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    named = Span(2, 1, f"localhost:{port}", JOB_ID)
    # The synchronous path never resolves a name (it ran on the agent's loop before).
    assert spannet.local_address(named) is None
    assert spannet.local_address(Span(2, 1, f"127.0.0.1:{port}", JOB_ID)) == "127.0.0.1"
    found = asyncio.run(spannet.probe(named))
    assert found.local_addr in ("127.0.0.1", "::1") and found.waiting is None
    gone = asyncio.run(spannet.probe(Span(2, 1, "no-such-host.invalid:29400", JOB_ID)))
    assert gone.waiting == "node 0 at no-such-host.invalid:29400"
    assert "no-such-host.invalid does not resolve" in (gone.problem or "")
    closed = free_port()
    absent = asyncio.run(spannet.probe(Span(2, 1, f"127.0.0.1:{closed}", JOB_ID)))
    assert absent.waiting == f"node 0 at 127.0.0.1:{closed}"
    assert "nothing listens there" in (absent.problem or "")
    # Node 0 itself opens the store: it does not knock on its own port.
    assert asyncio.run(spannet.probe(Span(2, 0, f"127.0.0.1:{closed}", JOB_ID))).waiting is None


@pytest.mark.parametrize("grace", [0.1, 1.0, 2.0, 2.5, 10.0, 30.0, 3600.0])
def test_torchrun_gives_its_ranks_less_than_the_agents_grace(grace: float, tmp_path: Path) -> None:
    for extra in ({"gpus": 2}, span_settings(1, 29400)):
        argv = trainer_argv("CartPole", {**CARTPOLE_FLAGS, **extra}, tmp_path, stop_grace_s=grace)
        shutdown = int(argv[argv.index("--shutdown-timeout") + 1])
        assert shutdown == rank_grace_s(grace) and 0 <= shutdown < grace
    assert rank_grace_s(30.0) == 24 and rank_grace_s(2.5) == 0


def _events(agent: AgentHarness) -> list[dict[str, Any]]:
    return list(agent.call("events", limit=100)["events"])


def test_a_part_without_node_0_waits_saying_so_then_starts_when_it_answers(
    agent: AgentHarness,
) -> None:
    agent.write_config(agent={"stop_grace_s": 4.0})
    agent.start()
    port = free_port()
    began = time.monotonic()
    agent.call("add_game", game="CartPole", settings=span_settings(1, port))
    want = f"waiting for node 0 at 127.0.0.1:{port}: nothing listens there"
    held = wait_for(
        lambda: (g := agent.game("CartPole"))["state"] == "backoff" and g, 20, "the hold"
    )
    assert time.monotonic() - began < 20  # seconds, not torchrun's ~90 s
    assert held["last_exit"].startswith(want) and held["pid"] is None
    said = [e for e in _events(agent) if e["kind"] == "error"]
    assert said and want in said[-1]["message"] and "node_rank 0" in said[-1]["message"]
    assert said[-1]["data"]["waiting_for"] == f"node 0 at 127.0.0.1:{port}"
    assert not agent.trainers()
    time.sleep(6)  # past a recheck: still waiting, said once, nothing started
    assert agent.game("CartPole")["state"] == "backoff" and not agent.trainers()
    assert len([e for e in _events(agent) if e["kind"] == "error"]) == 1
    # Something answers at node 0's address: the part starts (a start, not a crash).
    with socket.socket() as node0:
        node0.bind(("127.0.0.1", port))
        node0.listen()
        started = wait_for(
            lambda: [e for e in _events(agent) if e["kind"] == "trainer_started"], 20, "a start"
        )
        assert f"node 0 at 127.0.0.1:{port} it waited for answers" in started[-1]["message"]
        argv = started[-1]["data"]["argv"]
        assert argv[argv.index("--shutdown-timeout") + 1] == str(rank_grace_s(4.0))
        agent.call("stop_game", game="CartPole")
