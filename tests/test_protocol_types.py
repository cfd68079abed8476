"""The wire as msgspec types: the JSON keeps its documented shape, a request is validated
into its op's Struct with a refusal naming the field, and a partial State merges."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from controlroom import __version__, protocol
from controlroom.tui.recorded import NOW, recorded_state


def wire(message: Any) -> dict[str, Any]:
    line = protocol.encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    out: dict[str, Any] = json.loads(line)
    return out


def test_messages_encode_to_the_documented_json() -> None:
    assert wire(protocol.hello("h", "b")) == {
        "type": "hello",
        "protocol": protocol.PROTOCOL_VERSION,
        "version": __version__,
        "hostname": "h",
        "boot_id": "b",
    }
    assert wire(protocol.reply_ok(7, {"a": 1})) == {
        "type": "reply",
        "id": 7,
        "ok": True,
        "result": {"a": 1},
    }
    assert wire(protocol.reply_error("x", "invalid", "no")) == {
        "type": "reply",
        "id": "x",
        "ok": False,
        "error": {"code": "invalid", "message": "no"},
    }
    # A result Struct is sent as its fields; an UNSET one is left out.
    assert wire(protocol.reply_ok(1, protocol.Stopped(stopped=["Pong"])))["result"] == {
        "stopped": ["Pong"]
    }


def test_a_partial_state_sends_only_what_is_set_and_merges() -> None:
    state = protocol.as_state(recorded_state(NOW))
    pong = state.games["Pong"]
    update = protocol.StateUpdate(games={"Pong": None}, gpu_error="no driver")
    assert wire(protocol.Update(state=update)) == {
        "type": "update",
        "state": {"games": {"Pong": None}, "gpu_error": "no driver"},
    }
    read = protocol.decode_message(protocol.encode(protocol.Update(state=update)))
    assert isinstance(read, protocol.Update)
    protocol.apply_state_update(state, read.state)
    assert "Pong" not in state.games and state.gpu_error == "no driver"
    assert state.boots  # a key the update did not set stays
    again = protocol.StateUpdate(games={"Pong": pong})
    protocol.apply_state_update(state, again)
    assert state.games["Pong"] == pong


def test_a_snapshot_round_trips_and_game_states_are_enums() -> None:
    state = protocol.as_state(recorded_state(NOW))
    read = protocol.decode_message(protocol.encode(protocol.Snapshot(state=state)))
    assert isinstance(read, protocol.Snapshot) and read.state == state
    assert all(isinstance(g.state, protocol.GameStatus) for g in state.games.values())
    assert tuple(s.value for s in protocol.GameStatus) == protocol.GAME_STATES


@pytest.mark.parametrize(
    ("op", "args", "code", "names"),
    [
        ("add_game", {"game": 7}, "bad_request", "game"),
        ("add_game", {"game": "Pong", "evil": 1}, "bad_request", "unknown argument `evil`"),
        ("scale_game", {"game": "Pong"}, "bad_request", "missing argument `num_envs`"),
        ("scale_game", {"game": "Pong", "num_envs": 2**63}, "bad_request", "num_envs"),
        ("add_game", {"game": "Pong", "settings": {"num_envs": 0}}, "invalid", "num_envs"),
        ("add_game", {"game": "Pong", "settings": {"command": ["sh"]}}, "invalid", "command"),
        ("trial", {"game": "Pong", "settings": {"seed": -1}, "minutes": 1}, "invalid", "seed"),
        ("set_guard", {"budgets": {"max_trainers": 0}}, "invalid", "guard.max_trainers"),
        ("set_queue", {"games": [1]}, "bad_request", "games[0]"),
        ("events", {"limit": True}, "bad_request", "limit"),
    ],
)
def test_a_request_is_refused_naming_the_field(
    op: str, args: dict[str, Any], code: str, names: str
) -> None:
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse_request({"id": 1, "op": op, "args": args})
    assert caught.value.code == code and names in caught.value.message, caught.value.message


def test_a_request_is_validated_into_its_ops_struct() -> None:
    request = protocol.parse_request(
        {"id": 3, "op": "add_game", "args": {"game": "Pong", "settings": {"num_envs": 8}}}
    )
    assert request.id == 3 and request.op == "add_game"
    assert request.args == protocol.AddGame(game="Pong", settings={"num_envs": 8})
    budgets = protocol.parse_request(
        {"op": "set_guard", "args": {"budgets": {"max_gpu_temp_c": 80}}}
    )
    assert isinstance(budgets.args, protocol.SetGuard)
    assert budgets.args.budgets == {"max_gpu_temp_c": 80.0}  # the config's float
    # Every op's arguments are a Struct that refuses what it does not know.
    for kind in protocol.OPS.values():
        assert issubclass(kind, protocol.Args)
        assert kind.__struct_config__.forbid_unknown_fields


def test_a_line_of_another_shape_is_refused_by_the_client_decoder() -> None:
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.decode_message(b'{"type": "snapshot", "state": {"games": {"Pong": 1}}}')
    assert caught.value.code == "bad_request" and "games" in caught.value.message
    with pytest.raises(protocol.ProtocolError) as garbled:
        protocol.decode_message(b"not json")
    assert garbled.value.code == "bad_json"
    assert msgspec.json.decode(protocol.encode(protocol.State()))["host"]["hostname"] == ""
