"""AgentSession: the protocol over one (reader, writer) pair, SSH channel or local socket.

It reads the agent's hello and snapshot, keeps the State current with every update,
answers requests by id, and hands updates and events to whoever iterates `messages()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import asyncssh

from controlroom import protocol
from controlroom.link.errors import LOST, TIMEOUT, VERSION, LinkError, RequestFailed

REQUEST_TIMEOUT_S = 30.0
HELLO_TIMEOUT_S = 15.0


class LineReader(Protocol):
    """What the session reads from: asyncio's StreamReader or asyncssh's SSHReader."""

    async def readline(self) -> bytes: ...


class LineWriter(Protocol):
    """What the session writes to: asyncio's StreamWriter or asyncssh's SSHWriter."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


Closer = Callable[[], Awaitable[None]]


class AgentSession:
    """One live conversation with an agent; `state` is the agent's State, kept current."""

    def __init__(
        self, reader: LineReader, writer: LineWriter, *, where: str, closer: Closer | None = None
    ) -> None:
        """Args: reader/writer: the byte streams; where: how it was reached (for the
        header, e.g. "ssh streamlocal"); closer: extra cleanup (the SSH connection)."""
        self.reader, self.writer, self.where = reader, writer, where
        self.hello: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self._closer = closer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader_task: asyncio.Task[None] | None = None
        self.closed = False

    async def start(self, timeout: float = HELLO_TIMEOUT_S) -> dict[str, Any]:
        """Read hello (checking the protocol version) and the snapshot; return the State."""
        try:
            async with asyncio.timeout(timeout):
                self.hello = await self._read_message()
                check_hello(self.hello)
                snap = await self._read_message()
        except TimeoutError:
            raise LinkError(TIMEOUT, f"the agent said nothing for {timeout:.0f}s") from None
        if snap.get("type") != "snapshot" or not isinstance(snap.get("state"), dict):
            raise LinkError(LOST, f"expected a snapshot from the agent, got {snap.get('type')!r}")
        self.state = snap["state"]
        self._reader_task = asyncio.create_task(self._read_loop(), name=f"read {self.where}")
        return self.state

    async def request(self, op: str, timeout: float = REQUEST_TIMEOUT_S, **args: Any) -> Any:
        """Send one op and wait for its reply; the result, or RequestFailed/LinkError."""
        if self.closed:
            raise LinkError(LOST, "not connected to the agent")
        req_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        try:
            self.writer.write(protocol.encode(protocol.request(req_id, op, **args)))
            await self.writer.drain()
            async with asyncio.timeout(timeout):
                reply = await future
        except TimeoutError:
            raise LinkError(TIMEOUT, f"{op}: no reply within {timeout:.0f}s") from None
        except (OSError, asyncssh.Error) as exc:
            raise LinkError(LOST, f"{op}: link lost ({exc})") from None
        finally:
            self._pending.pop(req_id, None)
        return _result_of(op, reply)

    async def ping(self) -> float:
        """Round-trip time of a ping, in seconds."""
        start = time.perf_counter()
        await self.request("ping", timeout=10.0)
        return time.perf_counter() - start

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """Updates and events as they come (State already applied); ends with LinkError."""
        while True:
            msg = await self._inbox.get()
            if msg is None:
                raise LinkError(LOST, "the link to the agent closed")
            yield msg

    async def close(self) -> None:
        """Close the streams and whatever carries them; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        if self._reader_task is not None:
            self._reader_task.cancel()
        with contextlib.suppress(Exception):
            self.writer.close()
        if self._closer is not None:
            with contextlib.suppress(Exception):
                await self._closer()
        self._fail_pending()

    async def _read_message(self) -> dict[str, Any]:
        try:
            line = await self.reader.readline()
        except (OSError, asyncssh.Error, asyncio.IncompleteReadError) as exc:
            raise LinkError(LOST, f"link lost while reading ({exc})") from None
        if not line:
            raise LinkError(LOST, "the agent closed the connection")
        try:
            return protocol.decode(line)
        except protocol.ProtocolError as exc:
            raise LinkError(LOST, f"garbled line from the agent: {exc.message}") from None

    async def _read_loop(self) -> None:
        try:
            while True:
                self._route(await self._read_message())
        except (LinkError, asyncio.CancelledError):
            pass
        finally:  # whatever ended the loop, callers waiting on replies must hear of it
            self.closed = True
            self._fail_pending()
            self._inbox.put_nowait(None)

    def _route(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "reply":
            future = self._pending.get(msg.get("id"))  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result(msg)
            return
        if kind == "update" and isinstance(msg.get("state"), dict):
            protocol.apply_update(self.state, msg["state"])
        elif kind == "snapshot" and isinstance(msg.get("state"), dict):
            self.state = msg["state"]
        elif kind == "event" and isinstance(msg.get("event"), dict):
            _append_event(self.state, msg["event"])
        self._inbox.put_nowait(msg)

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkError(LOST, "the link closed before the reply"))


def check_hello(hello: dict[str, Any]) -> None:
    """The hello's protocol version must be ours; a mismatch is a LinkError(VERSION)."""
    try:
        protocol.check_hello(hello)
    except protocol.ProtocolError as exc:
        raise LinkError(VERSION, exc.message) from None


def _result_of(op: str, reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result", {})
    error = reply.get("error") or {}
    code, message = str(error.get("code", "internal")), str(error.get("message", "failed"))
    raise RequestFailed(code, f"{op}: {message}")


MAX_EVENTS_KEPT = 500


def _append_event(state: dict[str, Any], event: dict[str, Any]) -> None:
    events = state.setdefault("events", [])
    if isinstance(events, list):
        events.append(event)
        del events[:-MAX_EVENTS_KEPT]
