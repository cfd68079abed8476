"""`controlroom agent eval GAME [--episodes N] [--checkpoint latest|NAME] [--json]`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from controlroom import protocol
from controlroom.agent.client import Client
from controlroom.agent.evaluation.runner import MAX_EVAL_S

COMMANDS = ("eval",)


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


def run(args: argparse.Namespace, client: Client) -> str:
    """Ask the agent to evaluate and wait for it (an evaluation takes minutes)."""
    client.sock.settimeout(MAX_EVAL_S + 60)
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
