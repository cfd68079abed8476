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
import msgspec

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
Pushed = protocol.Snapshot | protocol.Update | protocol.EventMessage  # what messages() yields


class AgentSession:
    """One live conversation with an agent; `state` is the agent's State, kept current."""

    def __init__(
        self, reader: LineReader, writer: LineWriter, *, where: str, closer: Closer | None = None
    ) -> None:
        """Args: reader/writer: the byte streams; where: how it was reached (for the
        header, e.g. "ssh streamlocal"); closer: extra cleanup (the SSH connection)."""
        self.reader, self.writer, self.where = reader, writer, where
        self.hello = protocol.Hello(protocol=0, version="", hostname="", boot_id="")
        self.state = protocol.State()
        self._closer = closer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[protocol.Reply]] = {}
        self._inbox: asyncio.Queue[Pushed | None] = asyncio.Queue()
        self._reader_task: asyncio.Task[None] | None = None
        self.closed = False

    async def start(self, timeout: float = HELLO_TIMEOUT_S) -> protocol.State:
        """Read hello (checking the protocol version) and the snapshot; return the State."""
        try:
            async with asyncio.timeout(timeout):
                self.hello = check_hello(await self._read_line())
                snap = await self._read_message()
        except TimeoutError:
            raise LinkError(TIMEOUT, f"the agent said nothing for {timeout:.0f}s") from None
        if not isinstance(snap, protocol.Snapshot):
            kind = type(snap).__name__.lower()
            raise LinkError(LOST, f"expected a snapshot from the agent, got {kind!r}")
        self.state = snap.state
        self._reader_task = asyncio.create_task(self._read_loop(), name=f"read {self.where}")
        return self.state

    async def request(self, op: str, timeout: float = REQUEST_TIMEOUT_S, **args: Any) -> Any:
        """Send one op and wait for its reply; the result, or RequestFailed/LinkError."""
        if self.closed:
            raise LinkError(LOST, "not connected to the agent")
        req_id = next(self._ids)
        future: asyncio.Future[protocol.Reply] = asyncio.get_running_loop().create_future()
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

    async def messages(self) -> AsyncIterator[Pushed]:
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

    async def _read_line(self) -> bytes:
        try:
            line = await self.reader.readline()
        except (OSError, asyncssh.Error, asyncio.IncompleteReadError) as exc:
            raise LinkError(LOST, f"link lost while reading ({exc})") from None
        if not line:
            raise LinkError(LOST, "the agent closed the connection")
        return line

    async def _read_message(self) -> protocol.AgentMessage:
        line = await self._read_line()
        try:
            return protocol.decode_message(line)
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

    def _route(self, msg: protocol.AgentMessage) -> None:
        if isinstance(msg, protocol.Reply):
            future = self._pending.get(msg.id) if isinstance(msg.id, int) else None
            if future is not None and not future.done():
                future.set_result(msg)
            return
        if isinstance(msg, protocol.Hello):
            return  # only ever first, and read there
        if isinstance(msg, protocol.Update):
            protocol.apply_state_update(self.state, msg.state)
        elif isinstance(msg, protocol.Snapshot):
            self.state = msg.state
        else:
            _append_event(self.state, msg.event)
        self._inbox.put_nowait(msg)

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkError(LOST, "the link closed before the reply"))


def check_hello(line: bytes) -> protocol.Hello:
    """The agent's first line: a hello of our protocol version (read as plain JSON
    first: a peer of another version may send another shape); a mismatch is a
    LinkError(VERSION), a line that is no hello LinkError(LOST)."""
    try:
        obj = protocol.decode(line)
    except protocol.ProtocolError as exc:
        raise LinkError(LOST, f"garbled line from the agent: {exc.message}") from None
    try:
        protocol.check_hello(obj)
    except protocol.ProtocolError as exc:
        raise LinkError(VERSION, exc.message) from None
    try:
        hello = protocol.decode_message(line)
    except protocol.ProtocolError as exc:
        raise LinkError(LOST, f"garbled hello from the agent: {exc.message}") from None
    if not isinstance(hello, protocol.Hello):
        raise LinkError(LOST, "the agent's first line is not a hello")
    return hello


def _result_of(op: str, reply: protocol.Reply) -> Any:
    if reply.ok:
        return {} if isinstance(reply.result, msgspec.UnsetType) else reply.result
    error = reply.error
    if isinstance(error, msgspec.UnsetType):
        raise RequestFailed("internal", f"{op}: failed")
    raise RequestFailed(error.code, f"{op}: {error.message}")


MAX_EVENTS_KEPT = 500


def _append_event(state: protocol.State, event: protocol.Event) -> None:
    state.events.append(event)
    del state.events[:-MAX_EVENTS_KEPT]
