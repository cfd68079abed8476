"""The socket: hello + snapshot, replies, broadcasts, and hostile input that never kills it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import time
from typing import Any

from controlroom import protocol
from tests.agent.harness import AgentHarness


def raw(agent: AgentHarness) -> tuple[socket.socket, Any]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(str(agent.state_dir / "agent.sock"))
    reader = sock.makefile("rb")
    assert json.loads(reader.readline())["type"] == "hello"
    assert json.loads(reader.readline())["type"] == "snapshot"
    return sock, reader


def next_reply(reader: Any) -> dict[str, Any]:
    while True:
        msg = json.loads(reader.readline())
        if msg["type"] == "reply":
            return msg


def test_hello_snapshot_and_private_socket(agent: AgentHarness) -> None:
    agent.start()
    with agent.client() as c:
        assert c.hello["protocol"] == protocol.PROTOCOL_VERSION
        assert c.hello["version"]
        for key in (
            "host",
            "gpus",
            "gpu_error",
            "system",
            "games",
            "boots",
            "events",
            "policy",
            "history",
        ):
            assert key in c.snapshot
        assert c.snapshot["host"]["boot_id"] == "boot-1"
        assert c.call("ping")["pong"] is True
    assert stat.S_IMODE(os.stat(agent.state_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(agent.state_dir / "agent.sock").st_mode) == 0o600


def test_hostile_input_gets_error_replies_and_agent_keeps_serving(agent: AgentHarness) -> None:
    agent.start()
    sock, reader = raw(agent)
    cases = [
        (b"this is not json\n", "bad_json"),
        (b"\n", "bad_json"),  # a blank line is answered too, the connection kept
        (b"  \t \r\n", "bad_json"),
        (b"\xff\xfe\x00garbage\n", "bad_json"),
        (b"[1, 2, 3]\n", "bad_json"),
        (b"[" * 100_000 + b"\n", "bad_json"),
        (b'{"id": 1, "op": "launch_missiles"}\n', "unknown_op"),
        (b'{"id": 2, "op": 42}\n', "bad_request"),
        (b'{"id": 3, "op": "add_game", "args": {"game": 7}}\n', "bad_request"),
        (b'{"id": 4, "op": "add_game", "args": []}\n', "bad_request"),
        (
            b'{"id": 5, "op": "scale_game", "args": {"game": "Pong", "num_envs": true}}\n',
            "bad_request",
        ),
        (b'{"id": 6, "op": "add_game", "args": {"game": "Pong", "evil": 1}}\n', "bad_request"),
        (b'{"id": [1], "op": "ping"}\n', "bad_request"),
        (
            b'{"id": 8, "op": "add_game", "args": {"game": "Pong", "settings": '
            b'{"command": ["sh", "-c", "id"]}}}\n',
            "invalid",
        ),
        (b'{"id": 9, "op": "events", "args": {"limit": -5}}\n', "invalid"),
    ]
    for line, code in cases:
        sock.sendall(line)
        reply = next_reply(reader)
        assert reply["ok"] is False and reply["error"]["code"] == code, (line[:40], reply)
    sock.sendall(b'{"id": 10, "op": "ping"}\n')
    assert next_reply(reader)["ok"] is True
    sock.close()
    assert agent.call("status")["games"] == {}  # nothing was changed by any of it


def test_ten_megabyte_line_is_refused_without_killing_the_agent(agent: AgentHarness) -> None:
    agent.start()
    sock, reader = raw(agent)
    with contextlib.suppress(OSError):  # the agent may close on us mid-send: allowed
        sock.sendall(b"x" * (10 * 2**20) + b"\n")
    reply = next_reply(reader)  # the reply was sent before the close, so it is readable
    assert reply["error"]["code"] == "too_long"
    assert reader.readline() == b""  # and then the connection was closed
    sock.close()
    assert agent.call("ping")["pong"] is True
    rss = __import__("psutil").Process(agent.proc.pid).memory_info().rss  # type: ignore[union-attr]
    assert rss < 200 * 2**20  # it never held the 10 MB line (let alone copies of it)


def test_half_closed_and_vanishing_clients(agent: AgentHarness) -> None:
    agent.start()
    sock, reader = raw(agent)
    sock.sendall(b'{"id": "a", "op": "ping"}\n')
    sock.shutdown(socket.SHUT_WR)  # half-closed: the reply must still arrive
    assert next_reply(reader)["id"] == "a"
    sock.close()
    for _ in range(20):  # connect and vanish, mid-line or silent
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(agent.state_dir / "agent.sock"))
        s.sendall(b'{"id": 1, "op": "pi')
        s.close()
    assert agent.call("ping")["pong"] is True


def test_every_client_gets_the_same_events(agent: AgentHarness) -> None:
    agent.start()
    watchers = [agent.client() for _ in range(3)]
    try:
        result = agent.cli("add", "NoSuchGame")
        assert result.returncode == 2
        agent.call("events", limit=1)
        # a refused add changes nothing and emits nothing; a real change is seen by all:
        agent.call("add_game", game="CartPole", settings={"target_episodes": 1})
        for w in watchers:
            kinds = set()
            deadline = time.monotonic() + 30
            while "game_added" not in kinds and time.monotonic() < deadline:
                msg = next(w.messages())
                if msg["type"] == "event":
                    kinds.add(msg["event"]["kind"])
            assert "game_added" in kinds
    finally:
        for w in watchers:
            w.close()
