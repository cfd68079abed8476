"""What the evaluator's command line and its torch half share: options, the checkpoint
to load, and the result (controlroom/trainer/evaluate.py says what an evaluation is)."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controlroom import reference_scores

log = logging.getLogger("controlroom.trainer.evaluate")
MAX_EPISODES = 1000
MAX_ENVS = 8  # parallel envs at most: more adds threads, not speed, on a shared host
LATEST = "latest"
POLICIES = ("auto", "greedy", "sampled")


class EvalError(Exception):
    """Nothing to evaluate (no checkpoint, a bad name): one line, exit 1."""


@dataclass
class EvalOptions:
    """What one evaluation does (the command line)."""

    run_dir: Path
    episodes: int = 10
    checkpoint: str = LATEST
    device: str = "cpu"
    threads: int = 1
    nice: int = 10
    seed: int = 1_000_003
    policy: str = "auto"
    max_steps: int = 0
    json: bool = False
    record: Path | None = None  # an MP4 of env 0's screen (one env plays every episode)
    watch_fps: float = 0.0  # > 0: env 0's screen as PNG lines on stdout at this rate
    extra: dict[str, Any] = field(default_factory=dict)


def load(run_dir: Path, which: str) -> tuple[Path, dict[str, Any]]:
    """The checkpoint to evaluate: the newest that verifies, or the one named. Read only:
    a bad file is passed over, never renamed (that is the trainer's to do)."""
    from controlroom.trainer import checkpoint

    paths = checkpoint.list_checkpoints(run_dir)
    if which != LATEST:
        paths = [p for p in paths if p.name == which]
        if not paths:
            raise EvalError(
                f"no checkpoint named {which!r} in {checkpoint.checkpoint_dir(run_dir)}"
            )
    for path in paths:
        try:
            return path, checkpoint.decode(path.read_bytes())
        except (OSError, checkpoint.CheckpointError) as exc:
            log.warning("passing over %s: %s", path.name, exc)
    raise EvalError(f"no checkpoint that verifies in {checkpoint.checkpoint_dir(run_dir)}")


def quotas(episodes: int, envs: int) -> list[int]:
    """Each env's share of the episodes, as even as can be."""
    return [episodes // envs + (i < episodes % envs) for i in range(envs)]


def summarize(scores: list[float], lengths: list[int]) -> dict[str, Any]:
    """Mean, median, min and max of the scores and of the lengths."""
    return {
        "mean": statistics.fmean(scores),
        "median": statistics.median(scores),
        "min": min(scores),
        "max": max(scores),
        "length_mean": statistics.fmean(lengths),
        "length_min": min(lengths),
        "length_max": max(lengths),
    }


Loaded = tuple[Path, dict[str, Any]]


def result(
    game: str, opts: EvalOptions, loaded: Loaded, played: Played, seconds: float
) -> dict[str, Any]:
    """The evaluation as one JSON-safe dict (what `--json` prints and the agent relays)."""
    path, state = loaded
    stats = summarize(played.scores, played.lengths)
    ref = reference_scores.reference(game)
    return {
        "game": game,
        "checkpoint": path.name,
        "global_step": int(state["global_step"]),
        "checkpoint_time": float(state["time"]),
        "episodes": len(played.scores),
        "policy": opts.policy,
        "device": opts.device,
        "seed": opts.seed,
        "scores": played.scores,
        "lengths": played.lengths,
        "capped": played.capped,
        **stats,
        "human_normalized": reference_scores.human_normalized(game, stats["mean"]),
        "reference": None if ref is None else {"random": ref[0], "human": ref[1]},
        "seconds": seconds,
        "time": time.time(),
    }


@dataclass
class Played:
    """The episodes played, in the order each env finished its share."""

    scores: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    capped: int = 0  # episodes cut short by --max-steps (their partial score counts)


def text(r: dict[str, Any]) -> str:
    """A few lines for a person."""
    lines = [
        f"{r['game']} {r['checkpoint']} (step {r['global_step']:,}), {r['episodes']} episodes, "
        f"{r['policy']} actions, {r['seconds']:.1f} s",
        f"  score  mean {r['mean']:.2f}  median {r['median']:.2f}  "
        f"min {r['min']:.2f}  max {r['max']:.2f}",
        f"  length mean {r['length_mean']:.0f}  min {r['length_min']}  max {r['length_max']}",
    ]
    if r["human_normalized"] is not None:
        ref = r["reference"]
        lines.append(
            f"  human-normalized {r['human_normalized']:.3f} "
            f"(random {ref['random']:g}, human {ref['human']:g})"
        )
    if r["capped"]:
        lines.append(f"  {r['capped']} episode(s) cut at --max-steps")
    return "\n".join(lines)
