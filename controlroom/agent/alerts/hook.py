"""The command hook: a program of the user's run for each alert, as an argument list
(no shell), the alert as JSON on its stdin, killed after its timeout (like supervisord's
event listeners and systemd's OnFailure=). Its output is not kept: it may echo secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from controlroom import protocol
from controlroom.agent.alerts.send import Outcome


async def run_hook(command: list[str], payload: protocol.JSONObject, timeout: float) -> Outcome:
    """Run the hook once; ok when it exits 0 within `timeout`. Never raises."""
    shown = f"command {command[0]}"
    data = json.dumps(payload).encode()
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome(shown, False, f"cannot run it: {exc.strerror or exc}")
    try:
        await asyncio.wait_for(_feed(proc, data), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return Outcome(shown, False, f"killed after {timeout:g}s")
    code = proc.returncode
    return Outcome(shown, code == 0, "" if code == 0 else f"exited {code}")


async def _feed(proc: asyncio.subprocess.Process, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        await proc.communicate(data)
    await proc.wait()
