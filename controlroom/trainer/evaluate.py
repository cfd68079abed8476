"""Evaluate a run's policy: `python -m controlroom.trainer.evaluate --run-dir DIR ...`.

A plain program like the trainer (the agent runs it as a process). It loads the policy
from a checkpoint of the run dir (the newest that verifies, or one named; it never
renames or deletes anything there: the run's trainer may be running beside it), plays N
episodes and prints mean/median/min/max score and episode lengths, plus the
human-normalized score where the game has published reference scores
(controlroom/reference_scores.py).

Episodes are those the trainer counts: the same envpool settings (make_envs) and the
same bookkeeping (EpisodeTracker), so an Atari score is a whole game's unclipped score
over all its lives, ended by game over or envpool's 27,000-step (108,000-frame) limit.

Which action (`--policy auto`, the default, as rl-baselines3-zoo's enjoy.py chooses):
for Atari, *sampled* from the policy, as CleanRL's PPO evaluation does: PPO learns a
stochastic policy and that is what its training return measures, while its argmax can be
a different, worse policy (one that never picks FIRE after a lost life stands still until
the time limit); for CartPole, the *greedy* argmax, the policy the sampling converges to
(a trained one balances the full 500 steps greedily, ~330 sampled). `--policy greedy` or
`--policy sampled` forces either. Both are repeatable: torch and the environments are
seeded by `--seed` (envpool's 30 random no-op starts vary the Atari episodes).

Each of the envs plays its own share of the N episodes (never the first N to finish,
which would favour short ones). It runs at low priority (os.nice) on few threads and on
the CPU by default, so a trainer beside it keeps its cores and its GPU memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from controlroom.trainer.cli import quiet_known_warnings
from controlroom.trainer.evalcore import (
    LATEST,
    MAX_EPISODES,
    POLICIES,
    EvalError,
    EvalOptions,
    text,
)
from controlroom.trainer.runtime import passive_openmp

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
MAX_WATCH_FPS = 30.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise EvalError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = _Parser(prog="python -m controlroom.trainer.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--run-dir", type=Path, required=True, help="the run dir a trainer writes")
    p.add_argument("--episodes", type=int, default=10, help=f"episodes to play (1..{MAX_EPISODES})")
    p.add_argument(
        "--checkpoint", default=LATEST, help="latest (newest that verifies) or a file name"
    )
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--nice", type=int, default=10, help="added to this process's niceness")
    p.add_argument("--seed", type=int, default=1_000_003, help="torch and env seed")
    p.add_argument(
        "--policy",
        choices=POLICIES,
        default="auto",
        help="greedy (argmax) or sampled actions; auto: sampled for Atari, greedy otherwise",
    )
    p.add_argument(
        "--max-steps", type=int, default=0, help="cap on an episode's steps (0 = envpool's)"
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument(
        "--watch-fps",
        type=float,
        default=0.0,
        help="stream env 0's screen to stdout as PNG lines at this rate (0 = off; at most 30)",
    )
    p.add_argument(
        "--record", type=Path, help="also write the episodes as an MP4 video (one env plays all)"
    )
    return p


def parse(argv: list[str] | None) -> EvalOptions:
    """Options from the command line, bounds checked (EvalError otherwise)."""
    a = build_parser().parse_args(argv)
    if not 1 <= a.episodes <= MAX_EPISODES:
        raise EvalError(f"--episodes must be in 1..{MAX_EPISODES}, got {a.episodes}")
    if not 1 <= a.threads <= 64:
        raise EvalError(f"--threads must be in 1..64, got {a.threads}")
    if a.record is not None and a.record.suffix != ".mp4":
        raise EvalError(f"--record must name an .mp4 file, got {a.record}")
    if not 0 <= a.watch_fps <= MAX_WATCH_FPS:
        raise EvalError(f"--watch-fps must be in 0..{MAX_WATCH_FPS:g}, got {a.watch_fps}")
    if not 0 <= a.nice <= 19 or not 0 <= a.seed < 2**31 or a.max_steps < 0:
        raise EvalError("--nice must be in 0..19, --seed in 0..2**31-1, --max-steps >= 0")
    return EvalOptions(
        a.run_dir, a.episodes, a.checkpoint, a.device, a.threads, a.nice, a.seed, a.policy,
        a.max_steps, a.json, a.record, a.watch_fps,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Evaluate; 0 and the result on stdout, 1 nothing to evaluate, 2 bad options."""
    passive_openmp()
    quiet_known_warnings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s evaluate %(levelname)s %(message)s")
    try:
        opts = parse(argv)
    except EvalError as exc:
        return _fail(exc, EXIT_USAGE)
    os.nice(opts.nice)  # before the work: a trainer beside it keeps its share
    try:
        from controlroom.trainer.evalrun import evaluate

        r = evaluate(opts)
    except EvalError as exc:
        return _fail(exc, EXIT_ERROR)
    print(json.dumps(r) if opts.json else text(r), flush=True)
    return EXIT_OK


def _fail(exc: Exception, code: int) -> int:
    print(f"controlroom.trainer.evaluate: error: {' '.join(str(exc).split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
