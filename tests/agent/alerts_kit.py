"""Real receivers on loopback for the alerts tests: an HTTP server that records what
apprise posts (json://, form://) and heartbeat GETs; one that accepts and never answers;
and the config with an [alerts] section, kept private as the agent requires."""

from __future__ import annotations

import json
import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import tomli_w

from tests.agent.harness import AgentHarness

TOKEN = "S3cr3tT0ken"  # in a path
PASSWORD = "hunter2pass"  # in the userinfo
FAST_ALERTS = {"digest_window_s": 0.2, "send_timeout_s": 1.0, "retry_backoff_s": 0.1}


@dataclass
class Hit:
    """One request the receiver got."""

    method: str
    path: str
    time: float
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.body.get("title", ""))

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))


class Receiver:
    """A real HTTP server on 127.0.0.1 (port 0) that answers 200 and keeps every request."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size).decode()
                kind = self.headers.get("Content-Type", "")
                body = json.loads(raw) if "json" in kind else _form(raw)
                hits.append(Hit("POST", self.path, time.time(), body))
                self._ok()

            def do_GET(self) -> None:
                hits.append(Hit("GET", self.path, time.time()))
                self._ok()

            def _ok(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, scheme: str, path: str = "hook") -> str:
        """An apprise URL to this receiver, a user, password and token in it."""
        return f"{scheme}://alice:{PASSWORD}@127.0.0.1:{self.port}/{path}/{TOKEN}"

    def posts(self) -> list[Hit]:
        return [h for h in self.hits if h.method == "POST"]

    def gets(self) -> list[Hit]:
        return [h for h in self.hits if h.method == "GET"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _form(raw: str) -> dict[str, Any]:
    return {k: v[0] for k, v in parse_qs(raw).items()}


class Silent:
    """Accepts connections and never answers (a hung receiver); counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read from or answered

    def close(self) -> None:
        self.closed = True
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


def write_alerts(
    harness: AgentHarness, alerts: dict[str, Any], mode: int = 0o600, **config: Any
) -> None:
    """The harness's config with an [alerts] section, at `mode` (the copy too)."""
    harness.write_config(**config)
    doc = tomllib.loads(harness.config_path.read_text())
    doc["alerts"] = {**FAST_ALERTS, **alerts}
    for path in (harness.config_path, harness.state_dir / "config.toml"):
        if path == harness.config_path or path.exists():
            path.write_text(tomli_w.dumps(doc))
            path.chmod(mode)


def events_of(agent: AgentHarness, kind: str) -> list[dict[str, Any]]:
    return [e for e in agent.call("events", limit=500)["events"] if e["kind"] == kind]
