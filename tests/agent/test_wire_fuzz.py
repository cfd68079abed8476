"""Property-based fuzz of the wire (issue 10): the decoder on arbitrary bytes, and every
op of protocol.OPS with generated arguments, sent to a real agent over its socket.

The properties: decode either returns an object or raises ProtocolError; no reply from
the agent ever has the code `internal`; the agent answers ping after all of it. Every
game runs a sleeping stand-in trainer ([trainer].command), so an add_game that gets
through starts nothing heavy.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlroom import protocol
from tests.agent.harness import SLEEPER, AgentHarness

# A longer hunt: FUZZ_EXAMPLES=5000 pytest tests/agent/test_wire_fuzz.py
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))

# ---- the decoder ----------------------------------------------------------------------
ODD_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1e-999",
    "-0",
    "-0.0",
    "9" * 400,
    "-" + "9" * 5000,
    "0x10",
    "01",
    "1.",
    ".5",
    "+1",
    "1e",
    "2e308",
    "1.7976931348623157e308",
    "4.9e-324",
    str(2**63),
    str(-(2**63) - 1),
]


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda n: b'{"id": 1, "op": "events", "args": {"since": ' + n.encode() + b"}}",
            st.sampled_from(ODD_NUMBERS),
        ),
        st.builds(
            lambda d, o: (o * d).encode(), st.integers(1, 5000), st.sampled_from(["[", '{"a":'])
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda kids: (
                st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=4), kids, max_size=4)
            ),
            max_leaves=30,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_decode_returns_an_object_or_raises_protocol_error(line: bytes) -> None:
    obj = decoded(line)
    if isinstance(obj, str):
        assert obj in protocol.ERROR_CODES
    else:
        assert isinstance(obj, dict)
        protocol.encode(obj)  # what was accepted can always be sent back


def decoded(line: bytes) -> dict[str, Any] | str:
    """The decoded object, or the ProtocolError's code (any other exception escapes)."""
    try:
        return protocol.decode(line)
    except protocol.ProtocolError as exc:
        return exc.code


# ---- every op, against a real agent -------------------------------------------------
SETTING_KEYS = [
    "num_envs",
    "num_steps",
    "minibatch_size",
    "target_episodes",
    "seed",
    "device",
    "command",
    "gpu_memory_fraction",
    "checkpoint_interval_s",
    "torch_threads",
    "keep_checkpoints",
]
BUDGET_KEYS = [
    "max_gpu_memory_fraction",
    "max_total_envs",
    "max_trainers",
    "max_gpu_temp_c",
    "max_host_ram_fraction",
    "action_interval_s",
    "resume_hold_s",
]
GAMES = [
    "Pong",
    "CartPole",
    "Breakout",
    "NoSuchGame",
    "",
    "pong",
    "../../etc/passwd",
    "Pong\x00",
    "\uff30\uff4f\uff4e\uff47",
    "a" * 300,
]

BOUNDARY_INTS = [
    -(2**63),
    -(2**63) - 1,
    2**63 - 1,
    2**63,
    2**64,
    10**30,
    -1,
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    31,
    2**31,
    2**32,
    10**6,
    10**9,
]
BOUNDARY_FLOATS = [
    0.0,
    -0.0,
    0.5,
    1.0,
    1.5,
    -1.0,
    1e-300,
    5e-324,
    1e308,
    1.7976931348623157e308,
    -1e308,
    83.0,
    1e15,
]
NAN_LIKE = [
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "1e999",
    "null",
    "true",
    "0",
    "-1",
    "",
    "{run_dir}",
    "{nope}",
    "\u202e",
    "x" * 2000,
]

SCALARS = (
    st.none()
    | st.booleans()
    | st.sampled_from(BOUNDARY_INTS)
    | st.integers()
    | st.sampled_from(BOUNDARY_FLOATS)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(NAN_LIKE)
    | st.sampled_from(GAMES)
    | st.text(max_size=20)
)
VALUES = st.recursive(
    SCALARS,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=12,
)


def deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"x": [value]}
    return value


HOSTILE = VALUES | st.integers(1, 400).map(deep)
NUMBERS = st.sampled_from(BOUNDARY_INTS) | st.sampled_from(BOUNDARY_FLOATS) | st.integers(-5, 70)
SETTING = NUMBERS | st.sampled_from(["cpu", "cuda", "auto", "cuda:0", "tpu", ""]) | HOSTILE
SETTINGS = st.dictionaries(st.sampled_from(SETTING_KEYS), SETTING, max_size=4) | st.dictionaries(
    st.text(max_size=6), HOSTILE, max_size=2
)
BUDGETS = st.dictionaries(st.sampled_from(BUDGET_KEYS), NUMBERS | HOSTILE, max_size=3)
# For each argument name: values of its own kind (so that validation deep inside the op
# is reached), and anything at all.
BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    "game": st.sampled_from(["Pong", "CartPole", "Breakout"])
    | st.sampled_from(GAMES)
    | st.text(max_size=12),
    "settings": SETTINGS,
    "budgets": BUDGETS,
    "num_envs": st.sampled_from(BOUNDARY_INTS),
    "limit": st.sampled_from(BOUNDARY_INTS),
    "lines": st.sampled_from(BOUNDARY_INTS),
    "before": st.sampled_from(BOUNDARY_INTS),
    "since": st.sampled_from(BOUNDARY_INTS + BOUNDARY_FLOATS),
    "minutes": st.sampled_from(BOUNDARY_INTS + BOUNDARY_FLOATS),
    "name": st.sampled_from(["default", "all", "", "none", "../x"]) | st.text(max_size=8),
    "mode": st.sampled_from(["replace", "beside", "", "both"]) | st.text(max_size=8),
    "games": st.lists(st.sampled_from(GAMES) | HOSTILE, max_size=4),
}
FUZZED_OPS = sorted(op for op in protocol.OPS if op != "shutdown")


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """One request: an op, and arguments named as the op wants (or not), of the right
    kind (or not)."""
    op = draw(st.sampled_from([*FUZZED_OPS, "shutdown", "no_such_op"]))
    spec = msgspec.structs.fields(protocol.OPS.get(op, protocol.NoArgs))
    args: dict[str, Any] = {}
    for name, required in ((f.encode_name, f.required) for f in spec):
        if draw(st.integers(0, 9)) < (9 if required else 5):
            own_kind = draw(st.integers(0, 4)) > 0
            args[name] = draw(BY_NAME.get(name, st.booleans()) if own_kind else HOSTILE)
    if draw(st.integers(0, 9)) == 0:
        args[draw(st.text(max_size=6))] = draw(HOSTILE)
    if op == "shutdown":  # only ever with arguments it must refuse: the agent stays up
        args["stop_trainers"] = draw(HOSTILE.filter(lambda v: not isinstance(v, bool)))
    return {"id": draw(st.integers(1, 2**62) | st.text(max_size=8)), "op": op, "args": args}


class Wire:
    """A raw connection: send one line, read until its reply (pushed messages skipped)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(str(path))
        self.reader = self.sock.makefile("rb")
        assert json.loads(self.reader.readline())["type"] == "hello"
        assert json.loads(self.reader.readline())["type"] == "snapshot"

    def ask(self, line: bytes) -> dict[str, Any]:
        self.sock.sendall(line + b"\n")
        while True:
            raw = self.reader.readline(protocol.MAX_LINE_BYTES + 1)
            assert raw, "the agent closed the connection"
            msg = protocol.decode(raw)  # every line from the agent is valid wire
            if msg["type"] == "reply":
                return msg

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentHarness, Wire]]:
    """One real agent for the module, every game a sleeper; a raw connection to it."""
    harness = AgentHarness(tmp_path_factory.mktemp("fuzz"))
    harness.write_config(trainer={"command": SLEEPER})
    harness.start()
    conn = Wire(harness.state_dir / "agent.sock")
    try:
        yield harness, conn
    finally:
        conn.close()
        harness.close()


def check_reply(line: bytes, reply: dict[str, Any]) -> None:
    if not reply["ok"]:
        code = reply["error"]["code"]
        assert code in protocol.ERROR_CODES
        assert code != "internal", f"sent {line[:600]!r}\ngot {reply}"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(request=requests())
def test_no_op_argument_answers_internal(
    wire: tuple[AgentHarness, Wire], request: dict[str, Any]
) -> None:
    _, conn = wire
    try:
        line = json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return
    reply = conn.ask(line)
    if os.environ.get("FUZZ_DEBUG"):  # to see what the fuzz reaches: -s and FUZZ_DEBUG=1
        print(f"{line[:150]!r} -> {str(reply)[:150]}", flush=True)
    check_reply(line, reply)


@settings(
    max_examples=EXAMPLES // 4,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.one_of(
        st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")),
        st.builds(
            lambda op, n: (
                b'{"id": 1, "op": "'
                + op.encode()
                + b'", "args": {"'
                + b'game": "Pong", "settings": {"num_envs": '
                + n.encode()
                + b"}}}"
            ),
            st.sampled_from(FUZZED_OPS),
            st.sampled_from(ODD_NUMBERS),
        ),
        st.builds(
            lambda n: (
                b'{"id": 2, "op": "set_guard", "args": {"budgets": '
                b'{"max_gpu_temp_c": ' + n.encode() + b"}}}"
            ),
            st.sampled_from(ODD_NUMBERS),
        ),
    )
)
def test_no_raw_line_answers_internal(wire: tuple[AgentHarness, Wire], line: bytes) -> None:
    _, conn = wire
    check_reply(line, conn.ask(line))  # a blank line too: answered bad_json


def test_the_agent_still_answers_and_every_client_gets_its_snapshot(
    wire: tuple[AgentHarness, Wire],
) -> None:
    agent, conn = wire
    assert conn.ask(b'{"id": "last", "op": "ping"}')["ok"] is True
    with agent.client() as fresh:  # a new client: hello, snapshot, ping (issue 10, item 1)
        assert fresh.call("ping")["pong"] is True
        assert fresh.call("status")["host"]["boot_id"] == "boot-1"
    assert agent.cli("status").returncode == 0
    with contextlib.suppress(Exception):
        agent.call("stop_all")
