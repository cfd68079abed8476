"""`agent bridge`: bytes both ways, and it exits when stdin closes."""

from __future__ import annotations

import json
import subprocess

from tests.agent.harness import AgentHarness


def test_bridge_relays_and_exits_on_stdin_eof(agent: AgentHarness) -> None:
    agent.start()
    bridge = subprocess.Popen(
        agent.argv("bridge"), env=agent.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert bridge.stdin is not None and bridge.stdout is not None
    assert json.loads(bridge.stdout.readline())["type"] == "hello"
    assert json.loads(bridge.stdout.readline())["type"] == "snapshot"
    bridge.stdin.write(b'{"id": 1, "op": "ping"}\n')
    bridge.stdin.flush()
    while (msg := json.loads(bridge.stdout.readline()))["type"] != "reply":
        pass
    assert msg["ok"] and msg["result"]["pong"]
    bridge.stdin.close()
    assert bridge.wait(10) == 0
    assert agent.call("ping")["pong"]


def test_bridge_without_agent_fails_clearly(agent: AgentHarness) -> None:
    done = agent.cli("bridge")
    assert done.returncode == 1 and "no agent" in done.stderr
