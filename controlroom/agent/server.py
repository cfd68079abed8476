"""The unix-socket server: JSON lines in, replies, updates and events out.

Each client has a bounded outgoing queue drained by its own writer task; a client too
slow to keep up is dropped, never allowed to stall the agent. Lines longer than
protocol.MAX_LINE_BYTES are refused with a too_long reply and the connection closed,
without the whole line ever being buffered (StreamReader's limit discards it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from controlroom import protocol

log = logging.getLogger(__name__)

QUEUE_LIMIT = 2000
WRITE_TIMEOUT_S = 10.0
DISCARD_S, DISCARD_BYTES = 5.0, 64 * 2**20

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Greeting = Callable[[], list[dict[str, Any]]]


class Client:
    """One connection: a reader loop and a writer task fed by a bounded queue."""

    def __init__(self, server: Server, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_LIMIT)
        self.closed = False
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; drop the client when its queue is full."""
        if self.closed:
            return
        try:
            self.queue.put_nowait(protocol.encode(message))
        except asyncio.QueueFull:
            log.warning("client too slow (%d messages queued): dropping it", QUEUE_LIMIT)
            self.close()

    def close(self) -> None:
        """Stop sending; the writer task closes the transport after what is queued."""
        if not self.closed:
            self.closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)
            if self.queue.full():
                self.writer.transport.abort()

    async def write_loop(self) -> None:
        """Drain the queue into the socket, then half-close it (the reader may go on)."""
        try:
            while (data := await self.queue.get()) is not None:
                self.writer.write(data)
                await asyncio.wait_for(self.writer.drain(), WRITE_TIMEOUT_S)
            if self.writer.can_write_eof():
                self.writer.write_eof()
        except (OSError, TimeoutError):
            self.writer.transport.abort()
        finally:
            self.closed = True

    async def read_loop(self) -> None:
        """Read requests until EOF, a too-long line, or the client is closed."""
        while not self.closed:
            try:
                line = await self.reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    await self.handle_line(exc.partial)
                return
            except asyncio.LimitOverrunError:
                self.send(protocol.reply_error(None, "too_long", "line longer than "
                                               f"{protocol.MAX_LINE_BYTES} bytes; closing"))
                self.close()
                await self._discard_input()
                return
            if line.strip():
                await self.handle_line(line)

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

    async def handle_line(self, line: bytes) -> None:
        """Decode and dispatch one request in its own task, so a slow op blocks nothing."""
        try:
            obj = protocol.decode(line)
        except protocol.ProtocolError as exc:
            self.send(protocol.reply_error(None, exc.code, exc.message))
            return
        except (ValueError, RecursionError) as exc:  # absurdly nested JSON, for one
            self.send(protocol.reply_error(None, "bad_json", f"not JSON: {type(exc).__name__}"))
            return
        task = asyncio.create_task(self._dispatch(obj))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _dispatch(self, obj: dict[str, Any]) -> None:
        reply = await self.server.handler(obj)
        self.send(reply)


class Server:
    """Serves one unix socket; broadcasts to every connected client."""

    def __init__(self, path: Path, handler: Handler, greeting: Greeting) -> None:
        self.path, self.handler, self.greeting = path, handler, greeting
        self.clients: set[Client] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Bind the socket 0600 (created under a 0077 umask, so never briefly wider)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o077)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=protocol.MAX_LINE_BYTES)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = Client(self, reader, writer)
        self.clients.add(client)
        writing = asyncio.create_task(client.write_loop())
        try:
            for message in self.greeting():
                client.send(message)
            await client.read_loop()
            if client.tasks:  # a half-closed client still gets its pending replies
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

    def broadcast(self, message: dict[str, Any]) -> None:
        """Queue a message for every client."""
        for client in list(self.clients):
            client.send(message)

    async def close(self) -> None:
        """Stop accepting, drop every client, remove the socket."""
        if self._server is not None:
            self._server.close()
        for client in list(self.clients):
            client.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
