"""Hostile input on the wire: non-finite numbers, absurd arguments, oversized replies.

Issue 10: nothing a client sends may answer `internal` or lock other clients out, and a
reply too big for one line is paged, never a traceback in the host CLI.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from controlroom import protocol
from controlroom.agent.server import wire_bytes
from controlroom.agent.storage.store import Store
from tests.agent.harness import AgentHarness
from tests.agent.test_socket import next_reply, raw

NON_FINITE = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1E400", b"-0.5e309"]


@pytest.mark.parametrize("number", NON_FINITE)
def test_decode_refuses_non_finite_numbers(number: bytes) -> None:
    for line in (b'{"a": ' + number + b"}", b'{"a": {"b": [1, ' + number + b"]}}"):
        with pytest.raises(protocol.ProtocolError) as caught:
            protocol.decode(line)
        assert caught.value.code == "bad_json"
        assert "finite" in caught.value.message


def test_decode_keeps_ordinary_messages() -> None:
    line = b'{"id": 1, "op": "events", "args": {"since": 1.7976931348623157e308, "limit": -0}}'
    assert protocol.decode(line)["args"]["since"] == 1.7976931348623157e308
    for deep in (b"[" * 100_000, b'{"a":' * 50_000):  # RecursionError in json: bad_json
        with pytest.raises(protocol.ProtocolError) as caught:
            protocol.decode(deep)
        assert caught.value.code == "bad_json"


@pytest.mark.parametrize(
    "args",
    [
        {"since": 2**63},
        {"since": 2**64},
        {"since": -(2**63) - 1},
        {"limit": 2**70},
        {"since": 10**300},
    ],
)
def test_parse_request_refuses_integers_beyond_64_bits(args: dict[str, Any]) -> None:
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse_request({"id": 1, "op": "events", "args": args})
    assert caught.value.code == "bad_request"


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_parse_request_refuses_deep_nesting_and_lone_surrogates() -> None:
    deep: Any = 1
    for _ in range(200):
        deep = {"x": deep}
    bad = [
        ("set_guard", {"budgets": {"max_trainers": deep}}),
        ("add_game", {"game": "Pong", "settings": {"seed": nested(40)}}),
        ("add_game", {"game": "Po\ud800ng"}),
        ("set_queue", {"games": ["\udfff"]}),
    ]
    for op, args in bad:
        with pytest.raises(protocol.ProtocolError) as caught:
            protocol.parse_request({"id": 1, "op": op, "args": args})
        assert caught.value.code == "bad_request", (op, caught.value.message)


def send_lines(agent: AgentHarness, lines: list[bytes]) -> list[dict[str, Any]]:
    sock, reader = raw(agent)
    try:
        replies = []
        for line in lines:
            sock.sendall(line + b"\n")
            replies.append(next_reply(reader))
        return replies
    finally:
        sock.close()


def test_non_finite_requests_are_refused_and_change_nothing(agent: AgentHarness) -> None:
    agent.start()
    before = agent.call("status")
    lines = [
        b'{"id": 1, "op": "set_guard", "args": {"budgets": {"max_gpu_temp_c": NaN}}}',
        b'{"id": 2, "op": "add_game", "args": {"game": "Pong", "settings": '
        b'{"checkpoint_interval_s": 1e999}}}',
        b'{"id": 3, "op": "trial", "args": {"game": "Pong", "settings": {}, "minutes": Infinity}}',
        b'{"id": 4, "op": "events", "args": {"since": -Infinity}}',
    ]
    for reply in send_lines(agent, lines):
        assert reply["ok"] is False and reply["error"]["code"] == "bad_json", reply
    # Every new client still gets hello and snapshot, and nothing changed.
    after = agent.call("status")
    assert after["games"] == before["games"] == {}
    assert after["policy"].get("guard", {}).get("budgets") == before["policy"].get("guard", {}).get(
        "budgets"
    )
    assert agent.cli("status").returncode == 0


def test_events_since_beyond_64_bits_is_refused_not_internal(agent: AgentHarness) -> None:
    agent.start()
    lines = [
        json.dumps({"id": i, "op": "events", "args": {"since": since}}).encode()
        for i, since in enumerate([2**63, 2**64, -(2**63) - 1, 10**30, -(10**300)])
    ]
    lines.append(b'{"id": 9, "op": "events", "args": {"since": ' + b"9" * 5000 + b"}}")
    for reply in send_lines(agent, lines):
        assert reply["ok"] is False, reply
        assert reply["error"]["code"] in ("bad_request", "invalid", "bad_json"), reply
    ok = send_lines(
        agent,
        [
            b'{"id": 1, "op": "events", "args": {"since": 1e308}}',
            b'{"id": 2, "op": "events", "args": {"since": -1e308, "limit": 1}}',
            b'{"id": 3, "op": "events", "args": {"since": 9223372036854775807}}',
        ],
    )
    assert [r["ok"] for r in ok] == [True, True, True], ok
    assert ok[0]["result"]["events"] == [] and len(ok[1]["result"]["events"]) == 1


def test_an_id_near_the_line_limit_still_gets_one_sendable_reply(agent: AgentHarness) -> None:
    agent.start()
    huge_id = "i" * (protocol.MAX_LINE_BYTES - 100)
    lines = [json.dumps({"id": huge_id, "op": op}).encode() for op in ("status", "nope")]
    sock, reader = raw(agent)
    try:
        for line in lines:
            sock.sendall(line + b"\n")
            got = reader.readline(protocol.MAX_LINE_BYTES + 1)
            while b'"type":"reply"' not in got[:30]:
                got = reader.readline(protocol.MAX_LINE_BYTES + 1)
            reply = protocol.decode(got)  # within the line limit, or this raises
            assert reply["ok"] is False and reply["error"]["code"] in ("too_long", "unknown_op")
    finally:
        sock.close()
    assert agent.call("ping")["pong"] is True


def insert_events(agent: AgentHarness, rows: list[tuple[float, str, str]]) -> None:
    """Write events straight into the running agent's SQLite file (as a disk would hold
    them), behind the agent's back: the agent reads events from the store per request."""
    db = sqlite3.connect(agent.state_dir / "agent.db", timeout=10)
    try:
        db.executemany(
            "INSERT INTO events(ts, kind, game, message, data) VALUES(?,?,?,?,?)",
            [(ts, "error", None, message, data) for ts, message, data in rows],
        )
        db.commit()
    finally:
        db.close()


def test_a_stored_non_finite_value_never_locks_clients_out(agent: AgentHarness) -> None:
    agent.start()
    insert_events(agent, [(1.0e9, "bad value on disk", '{"temp": NaN, "x": [Infinity]}')])
    with agent.client() as c:  # before the fix: hello, then the connection was dropped
        events = c.snapshot["events"]
        bad = [e for e in events if e["message"] == "bad value on disk"]
        assert bad and bad[0]["data"] == {"temp": None, "x": [None]}
        reply = c.call("events", limit=5)
        assert any(e["message"] == "bad value on disk" for e in reply["events"])
        assert c.call("ping")["pong"] is True
    assert agent.cli("status").returncode == 0
    assert agent.cli("events").returncode == 0


def test_cli_events_limit_5000_pages_past_the_line_limit(agent: AgentHarness) -> None:
    agent.write_config(agent={"max_events": 20_000})
    agent.start()
    big = "x" * 900
    insert_events(
        agent,
        [
            (1.5e9 + i, f"event {i:05d} {big}", json.dumps({"i": i, "pad": big}))
            for i in range(6000)
        ],
    )  # about 11 MB of events
    done = agent.cli("events", "--limit", "5000", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    got = [json.loads(line) for line in done.stdout.splitlines()]
    # the newest 5000 (the agent's own events came before these), oldest first, no gaps
    assert len(got) == 5000
    assert [e["data"]["i"] for e in got] == list(range(1000, 6000))
    text = agent.cli("events", "--limit", "5000")
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 5000
    assert text.stdout.splitlines()[-1].endswith(f"event 05999 {big}")


def test_one_event_bigger_than_a_line_is_shown_shortened(agent: AgentHarness) -> None:
    agent.start()
    insert_events(agent, [(1.9e9, "m" * (3 * 2**20), json.dumps({"pad": "p" * 2**20}))])
    with agent.client() as c:
        assert c.call("ping")["pong"] is True  # the snapshot (with the event) got through
        last = c.call("events", limit=1)["events"][-1]
        assert last["message"].startswith("mmm") and len(last["message"]) < 2**20
        assert last["data"].get("truncated") is True
    done = agent.cli("events", "--limit", "3")
    assert done.returncode == 0 and "Traceback" not in done.stderr


class FakeAgent:
    """A peer on a unix socket that greets with `hello` and then sends `after` — what an
    agent of another version, or a garbled link, looks like to the CLI."""

    def __init__(self, path: Path, hello: dict[str, Any], after: bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(1)
        self.hello, self.after = hello, after
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        try:
            conn.sendall(protocol.encode(self.hello) + self.after)
            conn.settimeout(10)
            conn.recv(65536)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()
        self.thread.join(10)


@pytest.mark.parametrize("case", ["other_protocol", "huge_line", "garbled", "not_an_object"])
def test_cli_protocol_errors_are_one_line_not_a_traceback(agent: AgentHarness, case: str) -> None:
    agent.state_dir.mkdir(mode=0o700, parents=True)
    hello = protocol.plain(protocol.hello("h", "b"))
    after = {
        "other_protocol": b"",
        "huge_line": b'{"type": "snapshot", "state": {"x": "' + b"y" * (2 * 2**20) + b'"}}\n',
        "garbled": b"\xff\xfe not json\n",
        "not_an_object": b"[1, 2]\n",
    }[case]
    if case == "other_protocol":
        hello["protocol"] = 99
    fake = FakeAgent(agent.state_dir / "agent.sock", hello, after)
    try:
        done = agent.cli("events", "--limit", "5000", timeout=30)
    finally:
        fake.close()
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("controlroom agent: ")


def test_wire_bytes_always_yields_one_sendable_line() -> None:
    nan = float("nan")
    snapshot = {
        "type": "snapshot",
        "state": {
            "policy": {"guard": {"max_gpu_temp_c": nan}},
            "events": [{"message": "m" * 600_000}] * 4,
        },
    }
    line = wire_bytes(snapshot)
    assert line is not None and len(line) <= protocol.MAX_LINE_BYTES
    state = protocol.decode(line)["state"]
    assert state["policy"]["guard"]["max_gpu_temp_c"] is None
    assert len(state["events"]) == 1  # the newest events that fit; the rest dropped
    reply = protocol.reply_ok(7, {"lines": ["x" * 1000] * 2000})
    refused = protocol.decode(wire_bytes(reply) or b"")
    assert refused["id"] == 7 and refused["error"]["code"] == "too_long"
    assert wire_bytes({"type": "update", "state": {"x": "y" * 2**21}}) is None
    long_id = protocol.reply_error("i" * (2**20 - 10), "bad_request", "no")
    assert protocol.decode(wire_bytes(long_id) or b"")["id"] is None
    assert wire_bytes(protocol.reply_ok(1, {"t": float("inf")})) == protocol.encode(
        protocol.reply_ok(1, {"t": None})
    )


def test_store_pages_events_newest_first_and_bounds_each(tmp_path: Path) -> None:
    store = Store(tmp_path / "agent.db")
    try:
        for i in range(5):
            store.add_event("error", None, f"e{i}", {"i": i})
        store.add_event("error", None, "big " + "b" * 10_000, {"pad": "p" * 40_000})
        page = list(store.events_newest(3))
        assert page[0][1].message.endswith("chars cut)") and len(page[0][1].message) < 9000
        cut = {"truncated": True, "bytes": len(json.dumps({"pad": "p" * 40_000}))}
        assert page[0][1].data == cut
        older = [e.message for _, e in store.events_newest(10, before=page[-1][0])]
        assert older == ["e2", "e1", "e0"]
        assert list(store.events_newest(10, since=2**70, before=2**80)) == []
        assert len(list(store.events_newest(10, since=-(10**400)))) == 6
    finally:
        store.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
