"""Does a learning curve look wrong? Pure rules over a history's rows ([diagnostics]).

Three signs a PPO run is in trouble, each a {code, message} the pane marks and the
detail screen explains:
- entropy_collapsed: the policy's entropy fell below a share of where it began, early
  in the run: it stopped exploring before it learnt much.
- kl_high: the median approx KL of the newest updates is far above the clip
  coefficient: the updates move the policy much further than PPO's clip means to.
- return_flat: over the last N updates (steps growing) the return gained nothing, and
  it is no better than at the start: not learning. A plateau after learning is not
  flagged.
Windows count updates by global step (history.py thins old rows: one stands for several).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence

from controlroom.agent.learning.history import COLUMN, Row
from controlroom.config import DiagnosticsConfig
from controlroom.protocol import Diagnosis

Finding = Diagnosis  # what looks wrong, as the GameState and the history op carry it
DEFAULT_CLIP = 0.1  # the built-in trainer's default clip_coef (trainer/settings.py)
EDGE_ROWS = 3  # rows averaged for "where it began" and "where it is"
MIN_FLAT_ROWS = 8  # fewer rows in the window say nothing about flatness
_STEP, _RET, _ENT, _KL = (COLUMN[k] for k in ("global_step", "return_mean", "entropy", "approx_kl"))


def diagnose(
    rows: Sequence[Row], limits: DiagnosticsConfig, clip_coef: float | None = None
) -> list[Finding]:
    """What looks wrong in these rows (oldest first), in a fixed order; [] when nothing."""
    found = [
        entropy_collapsed(rows, limits),
        kl_high(rows, limits, clip_coef if clip_coef else DEFAULT_CLIP),
        return_flat(rows, limits),
    ]
    return [f for f in found if f is not None]


def entropy_collapsed(rows: Sequence[Row], limits: DiagnosticsConfig) -> Finding | None:
    """Entropy now below the collapse share of its start, and it got there early."""
    points = _series(rows, _ENT)
    if len(points) < 2 * EDGE_ROWS:
        return None
    start = _mean(v for _, v in points[:EDGE_ROWS])
    now = _mean(v for _, v in points[-EDGE_ROWS:])
    floor = limits.entropy_collapse_fraction * start
    if start <= 0 or now >= floor:
        return None
    first_step = points[0][0]
    fell_at = next(step for step, v in points if v < floor)
    if fell_at - first_step > limits.entropy_early_steps:
        return None
    return Diagnosis(
        code="entropy_collapsed",
        message=(
            f"entropy collapsed early: {now:.3g} now, {start:.3g} at the start (below "
            f"{limits.entropy_collapse_fraction:g}x by step {fell_at:,}): the policy "
            "stopped exploring; try a larger ent_coef or a lower learning rate"
        ),
    )


def kl_high(rows: Sequence[Row], limits: DiagnosticsConfig, clip_coef: float) -> Finding | None:
    """The median approx KL of the newest updates far above the clip coefficient."""
    recent = [v for _, v in _series(rows, _KL)[-limits.kl_updates :]]
    if len(recent) < min(limits.kl_updates, EDGE_ROWS):
        return None
    kl = statistics.median(recent)
    limit = limits.kl_clip_factor * clip_coef
    if kl <= limit:
        return None
    return Diagnosis(
        code="kl_high",
        message=(
            f"approx KL {kl:.3g} (median of the last {len(recent)} updates) is far above "
            f"the clip range {clip_coef:g} (limit {limit:.3g}): updates overshoot; try a "
            "lower learning rate, fewer epochs or a target_kl"
        ),
    )


def return_flat(rows: Sequence[Row], limits: DiagnosticsConfig) -> Finding | None:
    """No gain over the last flat_updates updates, nor since the start."""
    points = _series(rows, _RET)
    per_update = steps_per_update(rows)
    if per_update is None or len(points) < MIN_FLAT_ROWS:
        return None
    newest = points[-1][0]
    since = newest - limits.flat_updates * per_update
    if points[0][0] > since:
        return None  # the run is younger than the window
    window = [v for step, v in points if step >= since]
    if len(window) < MIN_FLAT_ROWS:
        return None
    edge = max(1, min(EDGE_ROWS * 4, len(window) // 4))
    begin, end = _mean(window[:edge]), _mean(window[-edge:])
    start = _mean(v for _, v in points[:EDGE_ROWS])
    scale = max(1.0, abs(begin), abs(end))
    if max(end - begin, end - start) > limits.flat_min_gain * scale:
        return None
    return Diagnosis(
        code="return_flat",
        message=(
            f"return flat at {end:.4g} for the last {limits.flat_updates:,} updates "
            f"({newest - since:,.0f} steps) and no better than at the start ({start:.4g}): "
            "not learning; check the reward, the learning rate and the env"
        ),
    )


def steps_per_update(rows: Sequence[Row]) -> float | None:
    """Env steps per PPO update: the median step between the newest rows (one per update;
    history.py thins only old ones)."""
    steps = [int(s) for r in rows[-21:] if (s := r[_STEP]) is not None]
    gaps = [b - a for a, b in itertools.pairwise(steps) if b > a]
    return float(statistics.median(gaps)) if gaps else None


def _series(rows: Sequence[Row], column: int) -> list[tuple[int, float]]:
    """(global_step, value) of the rows that have both, finite."""
    out = []
    for r in rows:
        step, value = r[_STEP], r[column]
        if step is not None and value is not None and math.isfinite(value):
            out.append((int(step), float(value)))
    return out


def _mean(values: Iterable[float]) -> float:
    return statistics.fmean(values)
