"""Snapshots on real files: take, list, restore, prune."""

from __future__ import annotations

from pathlib import Path

from controlroom import protocol
from controlroom.agent.policy import migration


def meta(reason: str = "migrate", now: float = 100.0, **settings: int) -> protocol.SnapshotMeta:
    return protocol.SnapshotMeta(game="Pong", time=now, reason=reason, settings=settings)


def write_run(run_dir: Path, step: int) -> None:
    ck = run_dir / "checkpoints"
    ck.mkdir(parents=True, exist_ok=True)
    for old in ck.glob("*"):
        old.unlink()
    (ck / f"ckpt-{step:012d}.pt").write_bytes(b"weights at %d" % step)
    (ck / "latest.json").write_text(f'{{"global_step": {step}}}')
    (ck / ".ckpt-x.pt.tmp-1").write_bytes(b"half")  # a temp file is never snapshotted


def test_take_and_restore(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "Pong"
    write_run(run, 1000)
    snap = migration.take(tmp_path, run, meta(num_envs=8))
    assert sorted(p.name for p in (snap / "checkpoints").iterdir()) == [
        "ckpt-000000001000.pt",
        "latest.json",
    ]
    assert migration.meta(snap) == meta(num_envs=8)
    write_run(run, 5000)
    migration.restore(snap, run)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "ckpt-000000001000.pt",
        "latest.json",
    ]
    assert not list(run.glob(".checkpoints*"))


def test_newest_first_and_prune(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "Pong"
    write_run(run, 1)
    made = [migration.take(tmp_path, run, meta(f"n{i}")) for i in range(4)]
    assert len({p.name for p in made}) == 4  # same millisecond, still distinct
    listed = migration.snapshots(tmp_path, "Pong")
    assert [migration.meta(p).reason for p in listed] == ["n3", "n2", "n1", "n0"]
    gone = migration.prune(tmp_path, "Pong", keep=2)
    assert len(gone) == 2
    assert [(s.name, s.reason) for s in migration.listing(tmp_path, "Pong")] == [
        (listed[0].name, "n3"),
        (listed[1].name, "n2"),
    ]


def test_a_run_without_checkpoints_snapshots_empty(tmp_path: Path) -> None:
    snap = migration.take(tmp_path, tmp_path / "nothing", meta(now=1.0))
    assert list((snap / "checkpoints").iterdir()) == []
    assert migration.snapshots(tmp_path, "Freeway") == []
