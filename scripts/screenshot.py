"""The README's screenshot: the real app at 120x40, showing a real local agent when one
answers (--state-dir), else the recorded State from the user's log.

    .venv/bin/python scripts/screenshot.py [--state-dir DIR] [--out assets/screenshot.png]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
from pathlib import Path

from controlroom.link.errors import LinkError
from controlroom.link.local import open_local, where
from controlroom.link.session import AgentSession
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.host_view import HostView

SIZE = (120, 40)


async def _no_session() -> AgentSession:
    raise LinkError("lost", "recorded state: no agent")


async def live_state(state_dir: str) -> dict[str, object] | None:
    """The State of the agent under `state_dir`, or None when none answers."""
    try:
        session = await open_local(where(Path(state_dir)))
    except LinkError:
        return None
    state = session.state
    await session.close()
    return state


async def shoot(app: ControlRoomApp, state: dict[str, object], svg: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(HostView).load_state(state, where="ssh")
        await pilot.pause()
        app.save_screenshot(str(svg))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--state-dir", help="a running local agent to show")
    ap.add_argument("--out", default="assets/screenshot.png")
    args = ap.parse_args()
    state = asyncio.run(live_state(args.state_dir)) if args.state_dir else None
    clock = None
    if state is None:
        state, clock = recorded_state(), (lambda: NOW)
    target = HostTarget("tnr-0", _no_session)
    app = build_app([target], live=False, **({"clock": clock} if clock else {}))
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        svg = Path(tmp) / "screenshot.svg"
        asyncio.run(shoot(app, state, svg))
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".svg":
            out.write_bytes(svg.read_bytes())
        else:
            subprocess.run(["rsvg-convert", "-o", str(out), str(svg)], check=True)
    print(out)


if __name__ == "__main__":
    main()
