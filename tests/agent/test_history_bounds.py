"""agent/learning/history.py's bounds, without an agent: never more than its capacity, always the
newest and the first row, times strictly increasing, `after` only what is newer; a
ten-million-step run's reply within a few hundred KB; a run rebuilt from a real
MetricsWriter's rotated segments and thinned history file."""

from __future__ import annotations

import itertools
import json
import random
import time
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from controlroom import protocol
from controlroom.agent.learning.histories import fit
from controlroom.agent.learning.history import MAX_MARKS, MESSAGE_CHARS, History, row_from_line
from controlroom.agent.learning.history_files import rebuild
from controlroom.protocol import HISTORY_COLUMNS, HISTORY_POINTS


def update_line(t: float, step: int, rng: random.Random) -> dict[str, Any]:
    """An update line as trainer/metrics.py writes it, with full-precision floats."""
    return {
        "time": t,
        "kind": "update",
        "global_step": step,
        "charts/episodes": step // 200,
        "charts/episodes_per_hour": rng.uniform(1e3, 1e5),
        "charts/SPS": rng.uniform(100, 20000),
        "charts/episodic_return_mean": rng.uniform(-21, 21),
        "charts/episodic_return_min": -21.0,
        "charts/episodic_return_max": 21.0,
        "charts/episodic_length_mean": rng.uniform(800, 8000),
        "losses/policy_loss": rng.uniform(-0.05, 0.05),
        "losses/value_loss": rng.uniform(0, 100),
        "losses/entropy": rng.uniform(0.1, 1.8),
        "losses/approx_kl": rng.uniform(0, 0.05),
        "losses/clipfrac": rng.uniform(0, 0.3),
        "charts/learning_rate": 2.5e-4 * (1 - step / 1e7),
        "sys/rss_bytes": 123456789,
    }


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(4, 300),
    gaps=st.lists(st.floats(-5.0, 10.0, allow_nan=False), min_size=1, max_size=1500),
)
def test_bounded_newest_and_first_kept_monotonic(capacity: int, gaps: list[float]) -> None:
    h, t, fed = History(capacity), 1000.0, []
    for i, gap in enumerate(gaps):
        t += gap  # a negative or zero gap: a line read twice or out of order
        h.add_line(update_line(t, i, random.Random(i)))
        fed.append(round(t, 3))
    times = [r[0] for r in h.rows]
    kept_in_order = [x for i, x in enumerate(fed) if all(x > y for y in fed[:i])]
    assert len(h.rows) <= capacity
    assert times == sorted(set(times))
    assert times[0] == kept_in_order[0] and times[-1] == kept_in_order[-1]
    assert set(times) <= set(kept_in_order)
    assert len(h.rows) == min(len(kept_in_order), len(h.rows))
    for after in (None, fed[len(fed) // 2], fed[-1], -1.0):
        rows, _ = h.since(after)
        assert rows == [r for r in h.rows if after is None or r[0] > after]  # type: ignore[operator]


def test_recent_rows_are_fine_and_old_ones_coarse() -> None:
    h = History(200)
    for i in range(5000):
        h.add_row([float(i), i, *[None] * (len(HISTORY_COLUMNS) - 2)])
    steps = [int(r[1] or 0) for r in h.rows]
    assert steps[-100:] == list(range(4900, 5000))  # the newest half: every update
    assert steps[0] == 0 and len(h.rows) <= 200
    old = [b - a for a, b in itertools.pairwise(steps[:-100])]
    assert max(old) <= 4 * 4900 / (200 // 4)  # the old tier: about even over the whole run


def test_ten_million_steps_fit_a_few_hundred_kb() -> None:
    rng, h = random.Random(1), History()
    steps_per_update = 1024  # 8 envs x 128 steps: the default
    for i in range(10_000_000 // steps_per_update):
        h.add_line(update_line(1.7e9 + 0.6 * i, i * steps_per_update, rng))
    for i in range(MAX_MARKS + 50):
        h.add_mark(1.7e9 + 10.0 * i, "restart", "x" * 500)
    reply = h.result(
        "Pong", "main", None, [protocol.Diagnosis(code="return_flat", message="y" * 300)]
    )
    size = len(protocol.encode(reply))
    print(f"10M-step history reply: {size:,} bytes, {len(reply.rows)} rows")
    rows = reply.rows
    assert HISTORY_POINTS // 2 < len(rows) <= HISTORY_POINTS and rows[-1][1] > 9_990_000
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(rows)]
    assert max(gaps) < 4 * 10_000_000 / (HISTORY_POINTS // 4)  # the whole run's shape
    assert len(reply.marks) == MAX_MARKS and len(reply.marks[0].message) == MESSAGE_CHARS
    assert size < 400_000 < protocol.REPLY_BUDGET
    without_marks = len(protocol.encode(msgspec.structs.replace(reply, marks=[])))
    assert without_marks < 300_000  # the curve alone: what opening the screen costs


def test_fit_cuts_a_reply_over_the_budget() -> None:
    rows = [[1.0 + i, i, *["z" * 40] * 12] for i in range(2000)]
    mark = protocol.Mark(time=1.0, global_step=None, kind="restart", message="m" * 100)
    curve = protocol.LearningCurve(
        game="Pong", run="main", columns=[], rows=rows, marks=[mark] * 500, cursor=None
    )
    reply = fit(curve)
    assert len(protocol.encode(reply)) <= protocol.REPLY_BUDGET
    assert reply.rows[-1] == rows[-1]  # the newest kept


def test_rows_read_from_lines() -> None:
    line = update_line(1.7e9 + 0.123456, 2048, random.Random(2))
    line["losses/entropy"] = float("nan")
    del line["charts/SPS"]
    row = row_from_line(line)
    assert row is not None and row[0] == round(1.7e9 + 0.123456, 3) and row[1] == 2048
    at = {c: i for i, c in enumerate(HISTORY_COLUMNS)}
    assert row[at["entropy"]] is None and row[at["sps"]] is None
    assert len(str(row[at["value_loss"]])) <= 12  # five significant digits
    assert row_from_line({**line, "kind": "heartbeat"}) is None
    assert row_from_line({**line, "time": "soon"}) is None
    assert row_from_line({**line, "time": 10**400}) is None  # no float holds it
    huge = row_from_line({**line, "global_step": 10**400, "losses/entropy": 2**64})
    assert huge is not None and huge[1] is None and huge[at["entropy"]] is None


def test_junk_in_a_trainers_files_is_skipped(tmp_path: Path) -> None:
    good = update_line(1.7e9, 64, random.Random(4))
    junk = [
        b"{torn",
        b"[1, 2]",
        b'{"kind": "update", "time": NaN}',
        b'{"kind": "update", "time": 1' + b"0" * 400 + b"}",
        b'{"kind": "start", "time": "now"}',
        json.dumps(good).encode(),
        b'{"kind": "update", "time": 1700000000.5, "global_step": 1' + b"0" * 400 + b"}",
    ]
    (tmp_path / "metrics.jsonl").write_bytes(b"\n".join(junk) + b"\n")
    h = rebuild(tmp_path)
    assert [r[1] for r in h.rows] == [64, None] and h.marks == []


def test_rebuilt_from_rotated_segments_and_the_thinned_history(tmp_path: Path) -> None:
    from controlroom.trainer.metrics import MetricsWriter

    writer = MetricsWriter(tmp_path / "metrics.jsonl", segment_bytes=20_000, history_gap_s=0.0)
    rng = random.Random(3)
    writer.write("start", settings={"clip_coef": 0.2}, resumed_from=None, pid=1)
    for i in range(300):
        writer.set_counters(i * 64, i)
        writer.write("update", **{k: v for k, v in update_line(0, 0, rng).items() if "/" in k})
        writer.write("heartbeat")
        time.sleep(0.0012)  # a trainer's lines are ms apart at least (rows keep ms)
    writer.write("start", settings={"clip_coef": 0.2}, resumed_from="ckpt", pid=2)
    writer.write("update", **{k: v for k, v in update_line(0, 0, rng).items() if "/" in k})
    writer.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "metrics.history.jsonl" in names and "metrics.2.jsonl" in names
    h = rebuild(tmp_path)
    times = [r[0] for r in h.rows]
    assert times == sorted(set(times)) and len(h.rows) == 301  # every update, once
    assert [m.kind for m in h.marks] == ["start", "resume"]
    assert h.settings == {"clip_coef": 0.2}
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert h.rows[-1][0] == round(lines[-1]["time"], 3)
