"""Figures for the TUI (not pass/fail): sample -> painted latency, CPU with 8 games
updating at 2 Hz, the same with a game's detail screen open and asking for what is new
at 2 Hz (and the bytes each of its requests costs on the link), key press -> trainer
process running.

    .venv/bin/python bench/tui_latency.py [--seconds 20] [--skip-trainer]
        [--plot braille|textual-plot|textual-plot-thinned|textual-plotext] [--detail-only]

--plot draws the detail screen's plots with a maintained widget behind MetricPlot's
interface (bench/plot_textual_plot.py, bench/plot_textual_plotext.py; each needs its
package installed, neither is a dependency): the comparison that chose
tui/widgets/plots.py (braille, the default).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import platform
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from textual.widgets import OptionList

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controlroom import protocol
from controlroom.config import loads
from controlroom.link.local import open_local
from controlroom.tui.app import build_app
from controlroom.tui.recorded import recorded_state
from controlroom.tui.screens.detail import FOLLOW_S, DetailScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.game_pane import GameGrid
from controlroom.tui.widgets.gauges import Gauges
from controlroom.tui.widgets.host_view import HostView

GAMES = [
    "MsPacman",
    "BeamRider",
    "Asteroids",
    "Enduro",
    "Pong",
    "Freeway",
    "SpaceInvaders",
    "Seaquest",
]


def eight_game_state(now: float) -> dict[str, Any]:
    state = recorded_state(now)
    template = state["games"]["MsPacman"]
    state["games"] = {g: {**copy.deepcopy(template), "game": g} for g in GAMES}
    return state


HISTORY_ROWS = protocol.HISTORY_POINTS
"""A game's whole history as the agent sends it on opening: the most it keeps."""
LOG_LINE = "update 1234 global_step 2527232 sps 5012.3 return_mean 412.5 episodes 1490"


def history_row(i: int, t0: float) -> list[float | None]:
    """One row of a learning PPO run, a row per update."""
    values = {"time": t0 + i * 0.5, "global_step": 2048.0 * i, "return_mean": 20.0 + i / 10}
    return [values.get(c, 0.001 * (i % 97)) for c in protocol.HISTORY_COLUMNS]


class FakeAgent:
    """Speaks the protocol on a unix socket; pushes updates when told (in-process).
    Answers `history` from a growing history (a row more each `grow`) and `game_log`
    with a fixed tail; counts the bytes each op costs (request and reply lines)."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.state = eight_game_state(time.time())
        self.t0 = time.time() - HISTORY_ROWS * 0.5
        self.rows = [history_row(i, self.t0) for i in range(HISTORY_ROWS)]
        self.bytes: dict[str, list[int]] = {}

    def grow(self) -> None:
        self.rows.append(history_row(len(self.rows), self.t0))

    def answer(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        if op == "game_log":
            return {"lines": [LOG_LINE] * int(args.get("lines") or 40)}
        if op != "history":
            return {}
        after = args.get("after")
        rows = (
            self.rows[-HISTORY_ROWS:]
            if after is None
            else [r for r in self.rows[-50:] if (r[0] or 0.0) > after]
        )
        return {
            "game": args["game"],
            "run": "main",
            "columns": list(protocol.HISTORY_COLUMNS),
            "rows": rows,
            "marks": [],
            "cursor": self.rows[-1][0],
            "diagnosis": [],
        }

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(protocol.encode(protocol.hello("bench", "boot")))
        writer.write(protocol.encode({"type": "snapshot", "state": self.state}))
        await writer.drain()
        self.writers.append(writer)
        while line := await reader.readline():
            req = protocol.decode(line)
            op, args = str(req.get("op")), dict(req.get("args") or {})
            reply = protocol.encode(protocol.reply_ok(req.get("id"), self.answer(op, args)))
            key = f"{op} (full)" if op == "history" and args.get("after") is None else op
            self.bytes.setdefault(key, []).append(len(line) + len(reply))
            writer.write(reply)

    def push(self, delta: dict[str, Any]) -> None:
        self.push_line(protocol.encode({"type": "update", "state": delta}))

    def push_line(self, line: bytes) -> None:
        for w in self.writers:
            w.write(line)


TEMPLATE = eight_game_state(time.time())


def tick_delta(i: int, now: float) -> dict[str, Any]:
    games = {}
    for g in GAMES:
        game = copy.deepcopy(TEMPLATE["games"][g])
        game["metrics"]["episodes"] = 1000 + i
        game["metrics"]["sps"] = 5000.0 + i
        games[g] = game
    return {
        "games": games,
        "system": {"cpu_percent": float(i % 100), "ram_used": 1 << 33, "ram_total": 1 << 36},
    }


async def bench_fake(seconds: float) -> tuple[list[float], float]:
    agent = FakeAgent()
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "a.sock")
        server = await asyncio.start_unix_server(
            agent.serve, path=sock, limit=protocol.MAX_LINE_BYTES
        )
        app = build_app([HostTarget("bench", partial(open_local, sock))])
        async with server, app.run_test(size=(120, 40)) as pilot:
            view = app.query_one(HostView)
            while not view.status.up:
                await asyncio.sleep(0.01)
            latencies = []
            for i in range(30):  # sample -> painted: a unique CPU value until the gauge shows it
                marker = 11 + i
                t0 = time.perf_counter()
                system = {"cpu_percent": float(marker), "ram_used": 1, "ram_total": 2}
                agent.push({"system": system})
                gauge = app.query_one(Gauges)
                while f"{marker}%" not in str(gauge.render()):
                    await asyncio.sleep(0.0005)
                await pilot.pause()
                latencies.append(time.perf_counter() - t0)
            # the agent's side of the work (building and encoding each update) is done
            # up front: only the TUI's share (decode, apply, render) is measured
            lines = [
                protocol.encode({"type": "update", "state": tick_delta(i, time.time())})
                for i in range(int(seconds * 2) + 2)
            ]
            cpu0, wall0 = time.process_time(), time.perf_counter()
            i = 0
            while time.perf_counter() - wall0 < seconds:  # 8 games at 2 Hz
                agent.push_line(lines[i])
                i += 1
                await asyncio.sleep(0.5)
            cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return latencies, cpu


async def bench_detail(seconds: float, interval: float) -> tuple[float, dict[str, list[int]]]:
    """TUI CPU with MsPacman's detail screen open, asking for what is new every
    `interval` s while its trainer writes 2 rows a second and 8 games update at 2 Hz
    beneath; the bytes of each request on the link."""
    agent = FakeAgent()
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "a.sock")
        server = await asyncio.start_unix_server(
            agent.serve, path=sock, limit=protocol.MAX_LINE_BYTES
        )
        app = build_app([HostTarget("bench", partial(open_local, sock))])
        async with server, app.run_test(size=(120, 40)) as pilot:
            view = app.query_one(HostView)
            while not view.status.up:
                await asyncio.sleep(0.01)
            view.query_one(GameGrid).select("MsPacman")
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, DetailScreen)
            screen.interval = interval
            while not screen.polls:
                await asyncio.sleep(0.01)
            await pilot.pause()
            lines = [
                protocol.encode({"type": "update", "state": tick_delta(i, time.time())})
                for i in range(int(seconds * 2) + 2)
            ]
            cpu0, wall0 = time.process_time(), time.perf_counter()
            i = 0
            while time.perf_counter() - wall0 < seconds:
                agent.grow()  # the trainer wrote a row
                agent.push_line(lines[i])
                i += 1
                await asyncio.sleep(0.5)
            cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return cpu, agent.bytes


async def bench_trainer(agent: Any) -> float:
    from tests.link.realagent import pid_alive_path

    if agent is not None:
        config = loads(agent.config.read_text())
        app = build_app(
            [HostTarget("local", partial(open_local, str(agent.socket)))], config=config
        )
        async with app.run_test(size=(120, 40)) as pilot:
            view = app.query_one(HostView)
            while not view.status.up:
                await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            await pilot.press("a")
            await pilot.pause()
            # The picker lists the agent's whole catalogue; highlight Pong, then Enter.
            choices = app.screen.query_one("#choices", OptionList)
            choices.highlighted = choices.get_option_index("Pong")
            await pilot.press("enter")
            while not pid_alive_path(_pid(view, "Pong")):
                if time.perf_counter() - t0 > 60:  # never wait forever: say what is wrong
                    raise SystemExit("no Pong trainer 60 s after the key press")
                await asyncio.sleep(0.01)
            return time.perf_counter() - t0
    raise ValueError("no agent")


def _pid(view: HostView, game: str) -> int | None:
    """The pid of `game`'s trainer as the view last heard it, if it has one."""
    known = None if view.state is None else view.state.games.get(game)
    return known.pid if known else None


def use_widget(plot: str) -> None:
    """The detail screen builds (and finds) its plots as `plot`'s widgets."""
    from controlroom.tui.screens import detail

    if plot == "textual-plotext":
        from bench.plot_textual_plotext import TextualPlotextMetric

        detail.MetricPlot = TextualPlotextMetric  # type: ignore[attr-defined,assignment]
        return
    from bench.plot_textual_plot import TextualPlotMetric

    TextualPlotMetric.thin = plot.endswith("thinned")
    detail.MetricPlot = TextualPlotMetric  # type: ignore[attr-defined,assignment]


def bench_panes(seconds: float) -> None:
    lat, cpu = asyncio.run(bench_fake(seconds))
    ms = sorted(x * 1000 for x in lat)
    print(
        f"sample -> painted (socket write to gauge rendered + refresh): median "
        f"{statistics.median(ms):.1f} ms, p90 {ms[int(0.9 * len(ms)) - 1]:.1f} ms, "
        f"max {ms[-1]:.1f} ms (n={len(ms)})"
    )
    print(
        f"TUI CPU, 8 games updating at 2 Hz for {seconds:.0f}s (headless, fake agent in "
        f"process): {cpu * 100:.1f}% of one core (target < 5%)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--skip-trainer", action="store_true")
    ap.add_argument(
        "--plot",
        choices=("braille", "textual-plot", "textual-plot-thinned", "textual-plotext"),
        default="braille",
    )
    ap.add_argument("--detail-only", action="store_true", help="only the detail screen figures")
    args = ap.parse_args()
    if args.plot != "braille":
        try:
            use_widget(args.plot)
        except ModuleNotFoundError as e:
            package = args.plot.removesuffix("-thinned")
            raise SystemExit(
                f"--plot {args.plot} needs `.venv/bin/pip install {package}` ({e})"
            ) from e
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    print(f"detail screen plots drawn with: {args.plot}")
    if not args.detail_only:
        bench_panes(args.seconds)
    for interval in (FOLLOW_S, 0.5):  # the screen's default, and 2 Hz (its most)
        cpu, sent = asyncio.run(bench_detail(args.seconds, interval))
        print(
            f"TUI CPU, detail screen open asking every {interval:g} s, a new row each 0.5 s "
            f"(+ 8 games updating at 2 Hz beneath) for {args.seconds:.0f}s: {cpu * 100:.1f}% "
            "of one core (target < 5%)"
        )
    for op, sizes in sorted(sent.items()):
        print(
            f"  link bytes per {op} request+reply (the 2 Hz run): median "
            f"{statistics.median(sizes):,.0f}, max {max(sizes):,} (n={len(sizes)})"
        )
    if not args.skip_trainer and not args.detail_only:
        from tests.link.realagent import start_agent  # a real agent, tiny Pong

        with tempfile.TemporaryDirectory() as tmp:
            agent = start_agent(Path(tmp))
            try:
                took = asyncio.run(bench_trainer(agent))
            finally:
                agent.stop()
        print(
            f"key press (a, enter) -> Pong trainer process running: {took:.2f} s "
            f"(target < 2 s; real local agent, tiny Pong)"
        )


if __name__ == "__main__":
    main()
