"""The README's screenshots: the real app at 120x40.

.venv/bin/python scripts/screenshot.py [--out assets/screenshot.png]
    the recorded State of the user's GPU host (from their log), time frozen
.venv/bin/python scripts/screenshot.py --local [--out assets/screenshot-local.png]
    a real `controlroom local` run: a fresh local agent (temp state dir), a real Pong
    trainer on this machine's CPU, shot once its first metrics have arrived
.venv/bin/python scripts/screenshot.py --state-dir DIR
    whatever an agent already running under DIR shows
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from controlroom.config import find_config, load
from controlroom.link import local
from controlroom.link.errors import LinkError
from controlroom.link.local import open_local, where
from controlroom.link.session import AgentSession
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.host_view import HostView

SIZE = (120, 40)
LOCAL_GAME = "Pong"


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


async def shoot_local(
    state_dir: Path, config: Path | None, svg: Path, timeout: float, episodes: int
) -> str:
    """`controlroom local` for real: start the agent, let the app add Pong, wait until it
    has played `episodes` games (and one more sample), then shoot; returns a line saying
    what was shown."""
    socket = local.ensure_agent(state_dir, config)
    target = HostTarget("local", partial(open_local, socket), ensure_games=(LOCAL_GAME,))
    app = build_app([target], config=load(config) if config else None)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        deadline = time.monotonic() + timeout
        while (_metrics(view) or {}).get("episodes", -1) < episodes:
            if time.monotonic() > deadline:
                raise SystemExit(f"{LOCAL_GAME}: not {episodes} episodes within {timeout:.0f}s")
            await asyncio.sleep(0.2)
        await asyncio.sleep(3.0)  # one more telemetry sample for the gauges
        await pilot.pause()
        app.save_screenshot(str(svg))
        m = _metrics(view) or {}
    return f"{LOCAL_GAME}: {m.get('episodes')} episodes, {m.get('sps')} steps/s"


def _metrics(view: HostView) -> dict[str, Any] | None:
    game = ((view.state or {}).get("games") or {}).get(LOCAL_GAME) or {}
    metrics = game.get("metrics") or {}
    return metrics if metrics.get("sps") is not None else None


def stop_local(state_dir: Path) -> None:
    """Stop the trainers (checkpointed) and the agent started for the shot."""

    async def stop_all() -> None:
        session = await open_local(str(where(state_dir)))
        try:
            await session.request("stop_all", timeout=30)
        finally:
            await session.close()

    with contextlib.suppress(LinkError, OSError):
        asyncio.run(stop_all())
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if str(state_dir) in cmdline and "agent run" in cmdline:
                    os.kill(int(proc.name), signal.SIGTERM)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--local",
        action="store_true",
        help="shoot a real `controlroom local` run (fresh agent, real Pong)",
    )
    ap.add_argument("--state-dir", help="a running local agent to show")
    ap.add_argument("--config", help="config for --local (default: the lookup order)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds to wait for metrics")
    ap.add_argument(
        "--episodes",
        type=int,
        default=20,
        help="--local: shoot once the game has played this many (0: first metrics)",
    )
    ap.add_argument("--out")
    args = ap.parse_args()
    out = Path(
        args.out or ("assets/screenshot-local.png" if args.local else "assets/screenshot.png")
    )
    with tempfile.TemporaryDirectory() as tmp:
        svg = Path(tmp) / "screenshot.svg"
        if args.local:
            state_dir = Path(tmp) / "state"
            try:
                print(
                    asyncio.run(
                        shoot_local(
                            state_dir, find_config(args.config), svg, args.timeout, args.episodes
                        )
                    )
                )
            finally:
                stop_local(state_dir)
        else:
            _shoot_state(args.state_dir, svg)
        _write(svg, out)
    print(out)


def _shoot_state(state_dir: str | None, svg: Path) -> None:
    state = asyncio.run(live_state(state_dir)) if state_dir else None
    clock = None
    if state is None:
        state, clock = recorded_state(), (lambda: NOW)
    app = build_app(
        [HostTarget("tnr-0", _no_session)], live=False, **({"clock": clock} if clock else {})
    )
    asyncio.run(shoot(app, state, svg))


def _write(svg: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".svg":
        out.write_bytes(svg.read_bytes())
    else:
        subprocess.run(["rsvg-convert", "-o", str(out), str(svg)], check=True)


if __name__ == "__main__":
    main()
