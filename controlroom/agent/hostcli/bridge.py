"""`controlroom agent bridge`: stdin/stdout <-> the agent's socket, for SSH exec channels.

Used where the SSH server refuses stream-local forwarding. It exits as soon as stdin
closes (a process left behind by a closed exec channel would otherwise live forever),
or when the agent closes the socket.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from pathlib import Path

CHUNK = 64 * 1024


def bridge(path: Path) -> int:
    """Copy bytes both ways until either side closes; 1 when no agent answers."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as exc:
        print(f"controlroom agent bridge: no agent at {path}: {exc.strerror}", file=sys.stderr)
        return 1
    threading.Thread(target=_socket_to_stdout, args=(sock,), daemon=True).start()
    while data := os.read(sys.stdin.fileno(), CHUNK):
        try:
            sock.sendall(data)
        except OSError:
            break
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    return 0


def _socket_to_stdout(sock: socket.socket) -> None:
    out = sys.stdout.fileno()
    try:
        while data := sock.recv(CHUNK):
            _write_all(out, data)
    except OSError:
        pass
    # The agent went away: end the whole bridge so the SSH side sees EOF too.
    os._exit(0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
