"""`controlroom agent eval GAME [--episodes N] [--checkpoint latest|NAME] [--json]` and
`controlroom agent record GAME [--episodes N] [--out FILE.mp4]`."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from controlroom import protocol
from controlroom.agent.evaluation.runner import MAX_EVAL_S
from controlroom.agent.hostcli.client import Client, OpFailed

COMMANDS = ("eval", "record")


def add_parsers(sub: Any, make: Any) -> None:
    """The `eval` subcommand (`make` is cli._sub)."""
    p = make(
        sub,
        "eval",
        "score a game's policy from a checkpoint over N episodes (low priority, CPU)",
    )
    p.add_argument("game")
    p.add_argument(
        "--episodes", type=int, default=10, help=f"1..{protocol.MAX_EVAL_EPISODES} (default 10)"
    )
    p.add_argument(
        "--checkpoint", default="latest", help="latest (default) or a file name: ckpt-N.pt"
    )
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    p.add_argument("--json", action="store_true", help="the evaluate op's result as JSON")
    rec = make(sub, "record", "record a game's policy playing as an MP4 video (low priority, CPU)")
    rec.add_argument("game")
    rec.add_argument(
        "--episodes", type=int, default=1, help=f"1..{protocol.MAX_RECORD_EPISODES} (default 1)"
    )
    rec.add_argument("--checkpoint", default="latest", help="latest (default) or ckpt-N.pt")
    rec.add_argument(
        "--out", type=Path, help="copy the video here (.mp4); it is kept in the run dir's videos/"
    )


def run(args: argparse.Namespace, client: Client) -> str:
    """Ask the agent to evaluate (or record) and wait for it: it takes minutes."""
    client.sock.settimeout(MAX_EVAL_S + 60)
    if args.command == "record":
        return _record(args, client)
    result = client.call(
        "evaluate",
        game=args.game,
        episodes=args.episodes,
        checkpoint=args.checkpoint,
        device=args.device,
    )
    if args.json:
        return json.dumps(result)
    return as_text(protocol.as_result(result, protocol.Evaluation))


def _record(args: argparse.Namespace, client: Client) -> str:
    if args.out is not None and args.out.suffix != ".mp4":
        raise OpFailed("invalid", f"--out must name an .mp4 file, got {args.out}")
    r = client.call_as(
        protocol.Evaluation,
        "record",
        game=args.game,
        episodes=args.episodes,
        checkpoint=args.checkpoint,
    )
    assert r.video is not None  # a recording always names its file
    kept = Path(r.video)
    if args.out is not None:
        try:
            shutil.copyfile(kept, args.out)
        except OSError as exc:
            raise OpFailed("invalid", f"cannot write {args.out}: {exc.strerror or exc}") from None
    where = args.out or kept
    return f"{where}: {r.frames} frames\n" + as_text(r)


def as_text(r: protocol.Evaluation) -> str:
    """A few lines for a person."""
    lines = [
        f"{r.game} {r.checkpoint} (step {r.global_step:,}): {r.episodes} episodes, "
        f"{r.policy} actions, {r.seconds:.0f} s",
        f"  score  mean {r.mean:.2f}  median {r.median:.2f}  min {r.min:.2f}  max {r.max:.2f}",
        f"  length mean {r.length_mean:.0f}  min {r.length_min}  max {r.length_max}",
    ]
    if r.human_normalized is not None and r.reference is not None:
        lines.append(
            f"  human-normalized {r.human_normalized:.3f} "
            f"(random {r.reference.random:g}, human {r.reference.human:g})"
        )
    return "\n".join(lines)
