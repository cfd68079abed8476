"""The unix-socket server: JSON lines in, replies, updates and events out.

No client can stall the agent or the others:
- requests in flight are bounded per client (MAX_IN_FLIGHT): at the bound the server stops
  reading that client, so a pipelining client is held back by its own socket buffer;
- each client has an outgoing queue drained by its own writer task, bounded in messages
  and in bytes (MAX_QUEUED_BYTES); a client too slow to keep up is dropped;
- the read loop yields after every line, so a client's buffered lines take turns with
  the others and with supervision.
Lines longer than protocol.MAX_LINE_BYTES are refused with a too_long reply and the
connection closed, without the whole line ever being buffered (StreamReader's limit
discards it). A message the agent cannot encode, or one over the line limit, is logged
and answered with an error reply (or, if not a reply, sent shortened or skipped): it
never costs the client its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from msgspec import Struct

from controlroom import protocol
from controlroom.protocol import JSONObject

log = logging.getLogger(__name__)

QUEUE_LIMIT = 2000
MAX_QUEUED_BYTES = 16 * 2**20  # a few snapshots' worth; a client this far behind is gone
MAX_ECHOED_ID = 4096
MAX_IN_FLIGHT = 4  # enough for a TUI's overlapping ops; a flood waits in its own socket
WRITE_TIMEOUT_S = 10.0
DISCARD_S, DISCARD_BYTES = 5.0, 64 * 2**20

Message = Struct | JSONObject  # a protocol message Struct, or its plain JSON
Handler = Callable[[JSONObject], Awaitable[Message]]
Greeting = Callable[[], list[Message]]


class Connection:
    """One connection: a reader loop and a writer task fed by a bounded queue.

    A request holds one of the client's MAX_IN_FLIGHT slots from the moment its line is
    read until its reply has been written to the socket: a client that sends faster than
    it reads is held back where it costs the agent nothing, in its own socket buffer."""

    def __init__(
        self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        # (line, frees a slot once written); None ends the writer
        self.queue: asyncio.Queue[tuple[bytes, bool] | None] = asyncio.Queue(QUEUE_LIMIT)
        self.closed = False
        self.queued_bytes = 0
        self.tasks: set[asyncio.Future[Message]] = set()
        self.slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    def send(self, message: Message, *, slot: bool = False) -> None:
        """Queue a message; drop the client when its queue is full (messages or bytes).
        With `slot`, the message is a reply whose request slot is freed once it is written
        (or at once, if it is not queued)."""
        data = None if self.closed else wire_bytes(message)
        queued = data is not None and self.queue_line(data, slot)
        if slot and not queued:
            self.slots.release()

    def queue_line(self, data: bytes, slot: bool = False) -> bool:
        """Queue an encoded line; False (and the client dropped) when over a bound."""
        if self.queued_bytes + len(data) > MAX_QUEUED_BYTES:
            log.warning("client too slow (%d bytes queued): dropping it", self.queued_bytes)
        elif self.queue.full():
            log.warning("client too slow (%d messages queued): dropping it", QUEUE_LIMIT)
        else:
            self.queue.put_nowait((data, slot))
            self.queued_bytes += len(data)
            return True
        self.close(abort=True)
        return False

    def close(self, abort: bool = False) -> None:
        """Stop sending; the writer task closes the transport after what is queued (or
        at once with `abort`: a dropped client's backlog is not worth the wait)."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)
        if abort or self.queue.full():
            self.writer.transport.abort()
            self._empty_queue()
        for _ in range(MAX_IN_FLIGHT):  # wake a reader waiting for a slot: it ends
            self.slots.release()

    def _empty_queue(self) -> None:
        # Free the backlog now: an aborted transport's writer may be parked in drain().
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queued_bytes = 0
        self.queue.put_nowait(None)

    async def write_loop(self) -> None:
        """Drain the queue into the socket, then half-close it (the reader may go on)."""
        try:
            while (item := await self.queue.get()) is not None:
                data, slot = item
                self.queued_bytes -= len(data)
                self.writer.write(data)
                await asyncio.wait_for(self.writer.drain(), WRITE_TIMEOUT_S)
                if slot:
                    self.slots.release()
            if self.writer.can_write_eof():
                self.writer.write_eof()
        except (OSError, TimeoutError):
            self.close(abort=True)
        finally:
            self.closed = True

    async def read_loop(self) -> None:
        """Read requests until EOF, a too-long line, or the client is closed; with
        MAX_IN_FLIGHT requests unanswered, read nothing more until one is."""
        while not self.closed:
            await self.slots.acquire()
            if self.closed:
                return
            try:
                line = await self.reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:  # EOF: a last unterminated line?
                if exc.partial.strip():
                    self.handle_line(exc.partial)
                else:  # the client only closed: nothing was asked
                    self.slots.release()
                return
            except asyncio.LimitOverrunError:
                self.send(
                    protocol.reply_error(
                        None,
                        "too_long",
                        f"line longer than {protocol.MAX_LINE_BYTES} bytes; closing",
                    ),
                    slot=True,
                )
                self.close()
                await self._discard_input()
                return
            self.handle_line(line)
            # A client's buffered lines are read without blocking: yield, so that one
            # client's backlog takes turns with the others and with supervision.
            await asyncio.sleep(0)

    async def _discard_input(self) -> None:
        # Closing a unix socket with unread input resets it, and the client would never
        # read the too_long reply: swallow (not keep) what it still sends, for a while.
        deadline = asyncio.get_running_loop().time() + DISCARD_S
        discarded = 0
        with contextlib.suppress(OSError, TimeoutError):
            while discarded < DISCARD_BYTES:
                left = deadline - asyncio.get_running_loop().time()
                chunk = await asyncio.wait_for(self.reader.read(65536), max(0.0, left))
                if not chunk:
                    return
                discarded += len(chunk)

    def handle_line(self, line: bytes) -> None:
        """Answer one line (holding a slot): a protocol error at once, a request in its
        own task, so that a slow op blocks nothing."""
        if not line.strip():  # answered like any bad line: a client waiting on it learns why
            message = "an empty line is not a request: send one JSON object per line"
            self.send(protocol.reply_error(None, "bad_json", message), slot=True)
            return
        try:
            obj = protocol.decode(line)
        except protocol.ProtocolError as exc:
            self.send(protocol.reply_error(None, exc.code, exc.message), slot=True)
            return
        task = asyncio.ensure_future(self.server.handler(obj))
        self.tasks.add(task)
        task.add_done_callback(self._answer)

    def _answer(self, task: asyncio.Future[Message]) -> None:
        """Send a finished request's reply (the handler answers every request, errors
        included); a request cancelled with the agent frees its slot unanswered."""
        self.tasks.discard(task)
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                log.error("request handler failed", exc_info=task.exception())
            self.slots.release()
            return
        self.send(task.result(), slot=True)


def wire_bytes(struct_or_plain: Message) -> bytes | None:
    """The message as one line, whatever the agent's state holds: a non-finite number is
    sent as null, a line over the limit is shortened (a snapshot's events) or, for a
    reply, replaced by an error reply. None (logged) when nothing sendable is left."""
    try:
        message = protocol.plain(struct_or_plain)
    except (ValueError, TypeError, RecursionError) as exc:  # a value JSON has no form for
        log.error("could not turn a %s into JSON (%s)", type(struct_or_plain).__name__, exc)
        if isinstance(struct_or_plain, protocol.Reply):
            failed = {"type": "reply", "id": struct_or_plain.id}
            return _error_instead(failed, "internal", "the agent could not encode its reply")
        return None
    kind = message.get("type")
    try:
        data: bytes | None = protocol.encode(message)
    except (ValueError, TypeError, RecursionError) as exc:
        log.error(
            "could not encode a %s (%s); sending it with non-finite numbers as null", kind, exc
        )
        data = _encode_or_none(protocol.finite(message))
    if data is None:
        return _error_instead(message, "internal", "the agent could not encode its reply")
    if len(data) <= protocol.MAX_LINE_BYTES:
        return data
    log.error("a %s of %d bytes is over the line limit; shortening it", kind, len(data))
    return _shortened(message) or _error_instead(
        message,
        "too_long",
        f"the reply is {len(data)} bytes, over the line limit of "
        f"{protocol.MAX_LINE_BYTES}; ask for less",
    )


def _encode_or_none(message: JSONObject) -> bytes | None:
    try:
        return protocol.encode(message)
    except (ValueError, TypeError, RecursionError):
        log.exception("message could not be encoded even with nulls: not sent")
        return None


def _error_instead(message: JSONObject, code: str, text: str) -> bytes | None:
    if message.get("type") != "reply":
        return None  # an update or event that cannot be sent is skipped (and was logged)
    req_id = message.get("id")
    if not isinstance(req_id, int | str) or len(str(req_id)) > MAX_ECHOED_ID:
        req_id = None  # an id near the line limit cannot be echoed in any reply
    return protocol.encode(protocol.reply_error(req_id, code, text))


def _shortened(message: JSONObject) -> bytes | None:
    """A snapshot (or status reply) without its oldest events until it fits."""
    body_key = "state" if message.get("type") in ("snapshot", "update") else "result"
    body = message.get(body_key)
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return None
    events = body["events"]
    while events:
        events = events[len(events) // 2 :] if len(events) > 1 else []
        data = _encode_or_none(protocol.finite({**message, body_key: {**body, "events": events}}))
        if data is not None and len(data) <= protocol.MAX_LINE_BYTES:
            return data
    return None


class Server:
    """Serves one unix socket; broadcasts to every connected client."""

    def __init__(self, path: Path, handler: Handler, greeting: Greeting) -> None:
        self.path, self.handler, self.greeting = path, handler, greeting
        self.clients: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Bind the socket 0600 (created under a 0077 umask, so never briefly wider)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o077)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=protocol.MAX_LINE_BYTES
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = Connection(self, reader, writer)
        self.clients.add(client)
        writing = asyncio.create_task(client.write_loop())
        try:
            for message in self.greeting():
                client.send(message)
            await client.read_loop()
            if client.tasks and not client.closed:  # half-closed: it still gets its replies
                await asyncio.wait(set(client.tasks), timeout=60)
        except (OSError, ValueError) as exc:
            log.info("client dropped: %s", exc)
        except asyncio.CancelledError:
            pass  # the agent is shutting down; 3.11's stream callback chokes on re-raising
        except Exception:
            log.exception("client handler failed")
        finally:
            self.clients.discard(client)
            client.close()
            await writing
            writer.close()

    def broadcast(self, message: Message) -> None:
        """Queue a message for every client (encoded once for all of them)."""
        data = wire_bytes(message) if self.clients else None
        if data is None:
            return
        for client in list(self.clients):
            if not client.closed:
                client.queue_line(data)

    async def close(self) -> None:
        """Stop accepting, drop every client, remove the socket."""
        if self._server is not None:
            self._server.close()
        for client in list(self.clients):
            client.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
