"""`controlroom agent tune GAME [GAME...] [--minutes N] [--dry-run] [--wait] [--json]`,
`agent tune` (the tunes now), `agent tune-apply GAME` and `agent tune-cancel`: the tune
of docs/policies.md through the agent's socket."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from controlroom import protocol
from controlroom.agent.hostcli.client import Client
from controlroom.protocol import TuneRung, TuneState

COMMANDS = ("tune", "tune-apply", "tune-cancel")
POLL_S = 2.0


def add_parsers(sub: Any, make: Any) -> None:
    """The tune subcommands (`make` is cli._sub)."""
    p = make(
        sub,
        "tune",
        "measure a ladder of shapes for running games and choose the fastest the host holds",
        epilog="num_envs doubles from the game's own (minibatch scaled with it: the same "
        "minibatches per update), each shape run from the game's checkpoint past its "
        "warm-up and measured on the host's summed steps/s; the climb stops at diminishing "
        "returns, a guard budget, the temperature limit or an unstable shape. The game "
        "goes back to its shape after; `tune-apply GAME` migrates it to the chosen one. "
        "Several games run in sequence. Without GAME: the tunes now.",
    )
    p.add_argument("games", nargs="*", metavar="GAME", help="running games on this host")
    p.add_argument("--minutes", type=float, help="minutes per game (default [tune].minutes)")
    p.add_argument("--dry-run", action="store_true", help="only show the ladders")
    p.add_argument("--wait", action="store_true", help="wait for the tunes to end")
    p.add_argument("--json", action="store_true", help="the tunes as JSON")
    make(sub, "tune-apply", "migrate a game to its finished tune's chosen shape").add_argument(
        "game"
    )
    make(sub, "tune-cancel", "stop the running tune; the game goes back to its shape")


def run(args: argparse.Namespace, client: Client) -> int:
    """One tune command; its exit code."""
    if args.command == "tune-apply":
        applied = client.call_as(protocol.TuneApplied, "tune_apply", game=args.game)
        print(
            f"{args.game}: tuned shape applied, {rung_shape(applied.tune.chosen)}; snapshot "
            f"{applied.migration.snapshot} (`rollback {args.game}` restores it)"
        )
        return 0
    if args.command == "tune-cancel":
        print(text(client.call_as(protocol.TuneChange, "tune_cancel")))
        return 0
    if args.games:
        extra = {} if args.minutes is None else {"minutes": args.minutes}
        change = client.call_as(
            protocol.TuneChange, "tune", games=list(args.games), dry_run=args.dry_run, **extra
        )
    else:
        change = client.call_as(protocol.TuneChange, "tune_status")
    while args.wait and not args.dry_run and _busy(change, args.games):
        time.sleep(POLL_S)
        change = client.call_as(protocol.TuneChange, "tune_status")
    print(json.dumps(protocol.plain(change), indent=1) if args.json else text(change))
    return 0


def _busy(change: protocol.TuneChange, games: list[str]) -> bool:
    return any(t.status == "running" for g, t in change.tunes.items() if not games or g in games)


def rung_shape(rung: TuneRung | None) -> str:
    """A rung's shape as a phrase."""
    if rung is None:
        return "none"
    threads = f", {rung.threads} threads" if rung.threads else ""
    return f"{rung.num_envs} envs, minibatch {rung.minibatch_size}{threads}"


def text(change: protocol.TuneChange) -> str:
    """The tunes as lines: each game's table of rungs and its result."""
    out: list[str] = []
    for t in change.tunes.values():
        out.extend(tune_lines(t, change.dry_run))
    if change.waiting:
        out.append("waiting: " + ", ".join(change.waiting))
    return "\n".join(out) or "no tune"


def tune_lines(t: TuneState, dry_run: bool = False) -> list[str]:
    """One game's tune: a header, a row per rung, the choice and the plan's figures."""
    head = "planned" if dry_run else t.status + (" (waiting)" if t.waiting else "")
    lines = [f"{t.game}: tune {head}, {t.rung_s:.0f} s per shape"]
    lines.append(
        f"  {'envs':>8} {'minibatch':>9} {'threads':>7} {'host sps':>9} {'game sps':>9} "
        f"{'eps/h':>7} {'MiB/env':>8} {'verdict':<12} reason"
    )
    for envs, r in t.rows():
        lines.append(
            f"  {envs:>8} {r.minibatch_size:>9} {r.threads_label or '-':>7} "
            f"{_num(r.steps_per_s):>9} {_num(r.game_steps_per_s):>9} "
            f"{_num(r.eps_per_h):>7} {_mib(r):>8} "
            f"{r.verdict:<12} {r.reason}"
        )
    if dry_run:
        return lines
    if t.reason:
        lines.append(f"  stopped: {t.reason}")
    if t.chosen is not None:
        lines.append(f"  chosen: {rung_shape(t.chosen)}{' (applied)' if t.applied else ''}")
        lines.append(f"  to target: {_fig(t.before)} now; {_fig(t.after)} with it")
    return lines


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def _mib(r: TuneRung) -> str:
    per_env = r.gpu_mem_per_env or (r.rss / r.num_envs if r.rss else None)
    return "-" if per_env is None else f"{per_env / 2**20:.0f}"


def _fig(f: protocol.TuneFigures) -> str:
    days = "?" if f.days is None else f"{f.days:.1f} days"
    cost = "?" if f.cost is None else f"${f.cost:.0f}"
    return f"{days}, {cost}"
