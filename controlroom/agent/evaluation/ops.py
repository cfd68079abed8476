"""The protocol ops evaluations serve: op name -> async handler(evaluations, args)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from controlroom import protocol
from controlroom.agent.evaluation.service import Evaluations

EvalOp = Callable[[Evaluations, Any], Awaitable[protocol.Result]]


async def evaluate(evaluations: Evaluations, args: protocol.Evaluate) -> protocol.Evaluation:
    """Scores of N episodes of a game's policy from a checkpoint (protocol: `evaluate`)."""
    return await evaluations.evaluate(args)


async def record(evaluations: Evaluations, args: protocol.Record) -> protocol.Evaluation:
    """A video of the policy playing, kept in the game's run dir (protocol: `record`)."""
    return await evaluations.record_video(args)


async def watch(evaluations: Evaluations, args: protocol.Watch) -> protocol.WatchFrames:
    """Start, poll or stop a stream of one episode's frames (protocol: `watch`)."""
    return await evaluations.watch(args)


EVAL_OPS: dict[str, EvalOp] = {"evaluate": evaluate, "record": record, "watch": watch}
