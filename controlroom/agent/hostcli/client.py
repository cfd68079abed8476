"""A small synchronous client of the agent's socket, for the host CLI and tests."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from controlroom import protocol
from controlroom.protocol import JSONObject


class AgentUnavailable(Exception):
    """No agent answers on that socket."""


class OpFailed(Exception):
    """The agent replied ok=false; `code` is one of protocol.ERROR_CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class Client:
    """Connects, reads hello and the snapshot, then sends requests and reads replies."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except OSError as exc:
            self.sock.close()
            raise AgentUnavailable(f"no agent at {path}: {exc.strerror or exc}") from None
        self.file = self.sock.makefile("rb")
        self._ids = itertools.count(1)
        self.pending: list[JSONObject] = []  # updates/events read while waiting, as sent
        self.hello = self.read()
        protocol.check_hello(self.hello)
        self.snapshot: JSONObject = self.read()["state"]  # as sent: `status --json` prints it

    def read(self) -> JSONObject:
        """The next message from the agent."""
        line = self.file.readline(protocol.MAX_LINE_BYTES + 1)
        if not line:
            raise AgentUnavailable("the agent closed the connection")
        return protocol.decode(line)

    def send(self, message: JSONObject) -> None:
        """Send one message as is."""
        self.sock.sendall(protocol.encode(message))

    def call(self, op: str, **args: Any) -> JSONObject:
        """One request; its result, or OpFailed."""
        req_id = next(self._ids)
        self.send(protocol.request(req_id, op, **args))
        while True:
            msg = self.read()
            if msg.get("type") == "reply" and msg.get("id") == req_id:
                if msg.get("ok"):
                    result: JSONObject = msg.get("result", {})
                    return result
                err = msg.get("error", {})
                raise OpFailed(str(err.get("code")), str(err.get("message")))
            self.pending.append(msg)
            del self.pending[:-1000]

    def call_as(self, kind: type[protocol.R], op: str, **args: Any) -> protocol.R:
        """One request; its result as the op's result Struct (protocol.as_result)."""
        return protocol.as_result(self.call(op, **args), kind)

    def messages(self) -> Iterator[JSONObject]:
        """Every pushed message, starting with those read while waiting for replies."""
        while self.pending:
            yield self.pending.pop(0)
        while True:
            yield self.read()

    def close(self) -> None:
        """Close the connection."""
        self.file.close()
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
