"""`controlroom agent history GAME [--json|--csv] [--trial]`: a game's learning curve
for scripts and notebooks (the `history` op's result), or a few lines for a person.

CSV: a header of protocol.HISTORY_COLUMNS, one line per point, oldest first, empty
where the trainer did not say. JSON: the op's result as it came. Neither touches the
trainer's TensorBoard files.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from typing import Any

from controlroom import protocol
from controlroom.agent.hostcli.client import Client


def add_parser(sub: Any, make: Any) -> None:
    """The `history` subcommand (`make` is cli._sub)."""
    p = make(sub, "history", "a game's learning curve: return, losses, entropy, KL, ...")
    p.add_argument("game")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="the history op's result as JSON")
    out.add_argument("--csv", action="store_true", help="CSV: a header, one line per point")
    p.add_argument(
        "--trial", action="store_true", help="the game's running or last beside-trial candidate"
    )


def run(args: argparse.Namespace, client: Client) -> str:
    """The text to print."""
    result = client.call("history", game=args.game, run="trial" if args.trial else "main")
    if args.json:
        return json.dumps(result)
    curve = protocol.as_result(result, protocol.LearningCurve)
    return as_csv(curve) if args.csv else as_text(curve)


def as_csv(result: protocol.LearningCurve) -> str:
    """Header and rows; null as an empty field."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    return buf.getvalue().rstrip("\n")


def as_text(result: protocol.LearningCurve) -> str:
    """A few lines: span, return then and now, marks, what looks wrong."""
    cols, rows = result.columns, result.rows
    head = f"{result.game} ({result.run} run): {len(rows)} points"
    if not rows:
        return head + " (no update from its trainer yet)"
    at = {name: i for i, name in enumerate(cols)}
    first, last = rows[0], rows[-1]
    lines = [
        f"{head}, steps {_n(first[at['global_step']])} .. {_n(last[at['global_step']])}",
        f"  return {_f(first[at['return_mean']])} -> {_f(last[at['return_mean']])}"
        f" (newest min {_f(last[at['return_min']])}, max {_f(last[at['return_max']])});"
        f" entropy {_f(last[at['entropy']])}, approx KL {_f(last[at['approx_kl']])}",
    ]
    lines += [f"  {_when(m.time)} {m.kind:<19} {m.message}" for m in result.marks[-10:]]
    looks = result.diagnosis
    lines += [f"  looks wrong: {d.message}" for d in looks] or ["  nothing looks wrong"]
    return "\n".join(lines)


def _n(value: Any) -> str:
    return "?" if value is None else f"{int(value):,}"


def _f(value: Any) -> str:
    return "?" if value is None else f"{value:.4g}"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
