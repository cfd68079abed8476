"""The README's screenshots: the real app at 120x40.

.venv/bin/python scripts/screenshot.py [--out assets/screenshot.png]
    the recorded State of the user's GPU host (from their log), time frozen
.venv/bin/python scripts/screenshot.py --local [--out assets/screenshot-local.png]
    a real `controlroom local` run as `make run` starts it: a fresh local agent (temp
    state dir), real CartPole and Pong trainers on this machine's CPU, shot once Pong
    has played `--episodes` games
.venv/bin/python scripts/screenshot.py --detail [--seconds 150]
    the detail screen (Enter) of a real CartPole run: a fresh local agent, a real
    trainer on this CPU, shot after `--seconds` of training; writes
    assets/screenshot-detail.svg and .png
.venv/bin/python scripts/screenshot.py --watch
    the watch view (`f` on the detail screen) of a real Pong run: a fresh local agent,
    a real trainer on this CPU, shot once its first checkpoint plays and frames arrive;
    writes assets/screenshot-watch.png
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

from controlroom.config import find_config, load
from controlroom.link import local
from controlroom.link.errors import LinkError
from controlroom.link.local import open_local, where
from controlroom.link.session import AgentSession
from controlroom.protocol import JSONObject, State
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.cli import LOCAL_GAMES
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.screens.detail import DetailScreen
from controlroom.tui.screens.watch import WatchScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.game_pane import GameGrid
from controlroom.tui.widgets.host_view import HostView

SIZE = (120, 40)
LOCAL_GAME = "Pong"  # of LOCAL_GAMES, the one whose episodes the --local shot waits for
DETAIL_GAME = "CartPole"
"""Learns in a minute or two on a CPU: its curve rises within the shot."""


async def _no_session() -> AgentSession:
    raise LinkError("lost", "recorded state: no agent")


async def live_state(state_dir: str) -> State | None:
    """The State of the agent under `state_dir`, or None when none answers."""
    try:
        session = await open_local(where(Path(state_dir)))
    except LinkError:
        return None
    state = session.state
    await session.close()
    return state


async def shoot(app: ControlRoomApp, state: State | JSONObject, svg: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(HostView).load_state(state, where="ssh")
        await pilot.pause()
        app.save_screenshot(str(svg))


async def shoot_local(
    state_dir: Path, config: Path | None, svg: Path, timeout: float, episodes: int
) -> str:
    """`controlroom local` for real: start the agent, let the app add what `make run`
    trains (LOCAL_GAMES), wait until Pong has played `episodes` games (and one more
    sample), then shoot; returns a line saying what was shown."""
    socket = local.ensure_agent(state_dir, config)
    target = HostTarget("local", partial(open_local, socket), ensure_games=LOCAL_GAMES)
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


async def shoot_detail(state_dir: Path, config: Path | None, svg: Path, seconds: float) -> str:
    """A real CartPole run's detail screen: start a local agent, let the app add
    CartPole, train for `seconds`, press Enter on its pane, shoot once the screen has
    its history; returns a line saying what was shown."""
    socket = local.ensure_agent(state_dir, config)
    target = HostTarget("local", partial(open_local, socket), ensure_games=(DETAIL_GAME,))
    app = build_app([target], config=load(config) if config else None)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        while _metrics(view, DETAIL_GAME) is None:
            await asyncio.sleep(0.5)
        await asyncio.sleep(seconds)
        await pilot.pause()
        view.query_one(GameGrid).select(DETAIL_GAME)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        while not screen.main.rows:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # the trainer output's first tail
        await pilot.pause()
        app.save_screenshot(str(svg))
        m = _metrics(view, DETAIL_GAME) or {}
        rows = len(screen.main.rows)
    return f"{DETAIL_GAME}: {rows} history rows, return_mean {m.get('return_mean')}"


async def shoot_watch(state_dir: Path, config: Path | None, svg: Path, frames: int) -> str:
    """A real Pong run's watch view: start a local agent, let the app add Pong, wait for
    its first checkpoint, open its detail screen, press `f` and shoot once `frames`
    frames of the episode have arrived; returns a line saying what was shown."""
    socket = local.ensure_agent(state_dir, config)
    target = HostTarget("local", partial(open_local, socket), ensure_games=(LOCAL_GAME,))
    app = build_app([target], config=load(config) if config else None)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        while _checkpoint(view, LOCAL_GAME) is None:
            await asyncio.sleep(0.5)
        await pilot.pause()
        view.query_one(GameGrid).select(LOCAL_GAME)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("f")
        screen = app.screen
        assert isinstance(screen, WatchScreen)
        while screen.frames_shown < frames:
            await asyncio.sleep(0.2)
        await pilot.pause()
        app.save_screenshot(str(svg))
        shown = screen.frames_shown
        await pilot.press("escape")  # ends the evaluator's stream
        await pilot.pause()
    return f"{LOCAL_GAME}: {shown} frames watched"


def _checkpoint(view: HostView, name: str) -> object | None:
    game = None if view.state is None else view.state.games.get(name)
    return None if game is None else game.checkpoint


def _metrics(view: HostView, name: str = LOCAL_GAME) -> JSONObject | None:
    """The game's newest metrics line once it has a steps/s figure, else None."""
    game = None if view.state is None else view.state.games.get(name)
    metrics = (game.metrics if game else None) or {}
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
        help="shoot a real `controlroom local` run (fresh agent, real CartPole and Pong)",
    )
    ap.add_argument(
        "--detail",
        action="store_true",
        help="shoot the detail screen of a real CartPole run (fresh local agent)",
    )
    ap.add_argument(
        "--watch",
        action="store_true",
        help="shoot the watch view (f) of a real Pong run (fresh local agent)",
    )
    ap.add_argument("--frames", type=int, default=120, help="--watch: frames before the shot")
    ap.add_argument("--seconds", type=float, default=150, help="--detail: training time")
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
    default = "screenshot-local" if args.local else "screenshot"
    named = "screenshot-detail" if args.detail else "screenshot-watch" if args.watch else default
    out = Path(args.out or f"assets/{named}.png")
    with tempfile.TemporaryDirectory() as tmp:
        svg = Path(tmp) / "screenshot.svg"
        if args.detail:
            state_dir = Path(tmp) / "state"
            config = find_config(args.config)
            try:
                print(asyncio.run(shoot_detail(state_dir, config, svg, args.seconds)))
            finally:
                stop_local(state_dir)
            _write(svg, out.with_suffix(".svg"))  # exact: braille in the browser's font
        elif args.watch:
            state_dir = Path(tmp) / "state"
            try:
                print(
                    asyncio.run(shoot_watch(state_dir, find_config(args.config), svg, args.frames))
                )
            finally:
                stop_local(state_dir)
        elif args.local:
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
    live = asyncio.run(live_state(state_dir)) if state_dir else None
    state: State | JSONObject = live if live is not None else recorded_state()
    clock = time.time if live is not None else (lambda: NOW)  # the recording's own hour
    app = build_app([HostTarget("tnr-0", _no_session)], live=False, clock=clock)
    asyncio.run(shoot(app, state, svg))


def _write(svg: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".svg":
        out.write_bytes(svg.read_bytes())
    else:
        # Textual writes leading spaces as &#160;, which rsvg drops (shifting the text
        # after them) unless the document asks for its spaces to be kept.
        kept = svg.with_suffix(".kept.svg")
        kept.write_text(svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1))
        subprocess.run(["rsvg-convert", "-o", str(out), str(kept)], check=True)


if __name__ == "__main__":
    main()
