"""metrics.jsonl stays bounded (rotated segments plus a thinned history), and the agent's
MetricsTail follows it across rotations without losing or double-counting a line."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from controlroom.agent.supervision.runfiles import MetricsTail
from controlroom.trainer import metrics
from controlroom.trainer.metrics import MetricsWriter, segment_path
from tests.trainer.helpers import run_trainer

SEGMENT = 8 * 1024
HISTORY = 16 * 1024


class RecordingTail(MetricsTail):
    """A real MetricsTail that also remembers every line it took, in order."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.seen: list[int] = []

    def _take(self, line: bytes) -> None:
        super()._take(line)
        with contextlib.suppress(ValueError, KeyError):
            self.seen.append(int(json.loads(line)["seq"]))


def _files(run: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(run.iterdir()) if p.is_file()}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _writer(run: Path, **kw: Any) -> MetricsWriter:
    return MetricsWriter(
        run / "metrics.jsonl",
        segment_bytes=SEGMENT,
        history_bytes=HISTORY,
        history_gap_s=kw.pop("gap", 0.0),
        **kw,
    )


def _update(w: MetricsWriter, seq: int) -> None:
    w.set_counters(seq, seq // 10)
    w.write(
        metrics.KIND_UPDATE,
        seq=seq,
        **{metrics.RETURN_MEAN: float(seq), metrics.SPS: 1000.0, "pad": "x" * 80},
    )


def test_many_lines_stay_within_a_bounded_size(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.write(metrics.KIND_START, seq=-1, settings={"game": "Pong"})
    for seq in range(20_000):  # ~4 MB unrotated
        _update(w, seq)
    w.close()
    sizes = _files(tmp_path)
    assert set(sizes) == {
        "metrics.jsonl",
        "metrics.1.jsonl",
        "metrics.2.jsonl",
        "metrics.history.jsonl",
    }
    line = 400
    assert all(sizes[f"metrics{s}.jsonl"] < SEGMENT + line for s in ("", ".1", ".2"))
    assert sizes["metrics.history.jsonl"] <= HISTORY
    assert sum(sizes.values()) < 3 * (SEGMENT + line) + HISTORY
    # The newest lines are all there, in order, across the kept segments.
    kept = [
        x["seq"] for i in (2, 1, 0) for x in _lines(segment_path(tmp_path / "metrics.jsonl", i))
    ]
    assert kept == list(range(kept[0], 20_000))
    # The history spans the whole run, thinned, in order, with the start line kept.
    history = _lines(tmp_path / "metrics.history.jsonl")
    assert history[0]["kind"] == "start"
    seqs = [x["seq"] for x in history[1:]]
    assert seqs == sorted(seqs) and seqs[0] < 100 and seqs[-1] >= kept[0] - 200
    assert len(seqs) < 20_000 // 10


def test_history_keeps_one_update_per_gap(tmp_path: Path) -> None:
    w = _writer(tmp_path, gap=3600.0)  # far longer than the test: one update per segment run
    for seq in range(200):
        _update(w, seq)
    w.close()
    history = _lines(tmp_path / "metrics.history.jsonl")
    assert [x["seq"] for x in history] == [0]


def test_restarted_writer_appends_to_the_current_segment(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    for seq in range(30):
        _update(w, seq)
    w.close()
    before = (tmp_path / "metrics.jsonl").stat().st_size
    with (tmp_path / "metrics.jsonl").open("a") as fh:
        fh.write('{"kind": "upd')  # the previous writer was killed mid-line
    w = _writer(tmp_path)
    _update(w, 30)
    w.close()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert (tmp_path / "metrics.jsonl").stat().st_size > before
    assert lines[-2] == '{"kind": "upd' and json.loads(lines[-1])["seq"] == 30
    # It keeps counting the existing bytes: the segment still rotates at its size.
    w = _writer(tmp_path)
    seq = 31
    while not (tmp_path / "metrics.1.jsonl").exists():
        _update(w, seq)
        seq += 1
    w.close()
    assert (tmp_path / "metrics.1.jsonl").stat().st_size < SEGMENT + 400


def test_tail_follows_rotations_without_losing_or_repeating_a_line(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    tail = RecordingTail(tmp_path / "metrics.jsonl")
    tail.poll()
    for seq in range(3000):
        _update(w, seq)
        if seq % 37 == 0:  # ~40 lines per segment: up to one rotation between polls
            tail.poll()
    tail.poll()
    w.close()
    assert tail.seen == list(range(3000))
    assert tail.metrics is not None and tail.metrics["global_step"] == 2999


def test_tail_catches_up_over_two_rotations_between_polls(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    tail = RecordingTail(tmp_path / "metrics.jsonl")
    for seq in range(10):
        _update(w, seq)
    tail.poll()
    seq = 10
    while not (tmp_path / "metrics.2.jsonl").exists():  # two rotations, no poll
        _update(w, seq)
        seq += 1
    tail.poll()
    w.close()
    assert tail.seen == list(range(seq))


def test_tail_against_a_concurrent_writer(tmp_path: Path) -> None:
    # Segments of ~1300 lines; the writer never gets more than 1000 lines ahead of the
    # tail (the agent polls long before two rotations), however the two threads are
    # scheduled on a loaded machine; the renames still race the tail's stats and opens.
    w = MetricsWriter(tmp_path / "metrics.jsonl", segment_bytes=256 * 1024)
    tail = RecordingTail(tmp_path / "metrics.jsonl")
    tail.poll()  # as the agent does when it starts a trainer
    done = threading.Event()

    def write() -> None:
        for seq in range(8000):
            while seq - len(tail.seen) > 1000:
                time.sleep(0.001)
            _update(w, seq)
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    while not done.is_set():
        tail.poll()
    thread.join()
    tail.poll()
    w.close()
    assert (tmp_path / "metrics.2.jsonl").exists()
    assert tail.seen == list(range(8000))


def test_restarted_agent_finds_the_latest_metrics_after_a_rotation(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    seq = 0
    while not (tmp_path / "metrics.1.jsonl").exists():
        _update(w, seq)
        seq += 1
    w.write(metrics.KIND_HEARTBEAT, phase="rollout")  # the new segment holds no returns yet
    tail = MetricsTail(tmp_path / "metrics.jsonl")
    tail.start_at_end()
    assert tail.metrics is not None
    assert tail.metrics["return_mean"] == float(seq - 1)
    assert list(tail.returns)[-1] == float(seq - 1)
    _update(w, seq)
    assert tail.poll() == 1 and tail.metrics["global_step"] == seq
    w.close()


def test_trainer_rotates_and_resumes_into_the_current_segment(tmp_path: Path) -> None:
    run = tmp_path / "run"
    tiny = [
        "--game",
        "CartPole-v1",
        "--num-envs",
        "2",
        "--num-steps",
        "8",
        "--minibatch-size",
        "8",
        "--torch-threads",
        "1",
        "--metrics-segment-mb",
        "0.002",
    ]
    first = run_trainer(run, *tiny, "--total-steps", "320")
    assert first.returncode == 0, first.stderr
    assert (run / "metrics.2.jsonl").exists()
    assert all(s < 2100 + 2000 for s in _files(run).values())
    second = run_trainer(run, *tiny, "--total-steps", "480", "--resume")
    assert second.returncode == 0, second.stderr
    lines = [x for i in (2, 1, 0) for x in _lines(segment_path(run / "metrics.jsonl", i))]
    steps = [x["global_step"] for x in lines]
    assert steps == sorted(steps) and steps[-1] == 480 and lines[-1]["kind"] == "exit"
    history = _lines(run / "metrics.history.jsonl")
    assert [x["kind"] for x in history].count("start") == 2
    assert history[0]["kind"] == "start" and history[0]["resumed_from"] is None
