"""Settings validation (exit 2 before any work), checkpoint files, import boundaries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from controlroom.trainer import checkpoint
from controlroom.trainer.runtime import passive_openmp
from controlroom.trainer.settings import SettingsError, TrainerSettings, make_settings
from tests.trainer.helpers import TINY_PONG, read_metrics, run_trainer


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--game", "NotAGame"], "unknown game"),
        (["--num-envs", "0"], "--num-envs must be >= 1"),
        (["--num-envs", "3", "--num-steps", "10", "--minibatch-size", "7"], "does not divide"),
        (["--heartbeat-interval", "30"], "--heartbeat-interval"),
        (["--device", "tpu"], "--device"),
    ],
)
def test_bad_settings_exit_2_before_any_work(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_trainer(tmp_path / "run", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "run").exists()


def test_unwritable_run_dir_exits_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_trainer(blocker / "run", *TINY_PONG)
    assert result.returncode == 2
    assert "cannot create run dir" in result.stderr


def test_checkpoint_from_another_game_exits_2(pong32: Path) -> None:
    run_dir = pong32
    result = run_trainer(run_dir, "--game", "Breakout", "--resume")
    assert result.returncode == 2
    assert "is from Pong-v5, not Breakout-v5" in result.stderr
    assert [line["kind"] for line in read_metrics(run_dir)][-1] == "exit"


def test_existing_checkpoints_without_resume_exit_2(pong32: Path) -> None:
    run_dir = pong32
    result = run_trainer(run_dir, *TINY_PONG, "--total-steps", "64")
    assert result.returncode == 2
    assert "--resume" in result.stderr


def test_settings_map_short_names_and_default_budget() -> None:
    s = make_settings({"game": "MsPacman"})
    assert s.env_id == "MsPacman-v5" and s.is_atari and s.total_steps == 10_000_000
    assert not make_settings({"game": "CartPole-v1"}).is_atari
    assert make_settings({"target_episodes": 5}).total_steps == 0
    with pytest.raises(SettingsError):
        make_settings({"minibatch_size": 1000})


def test_checkpoint_roundtrip_detects_damage() -> None:
    data = checkpoint.encode({"w": torch.arange(4), "global_step": 8})
    assert checkpoint.decode(data)["global_step"] == 8
    for bad in (data[:-1], data[:20], b"", data[:-1] + b"x"):
        with pytest.raises(checkpoint.CheckpointError):
            checkpoint.decode(bad)


def test_save_keeps_newest_k_and_latest_json(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    settings = TrainerSettings().to_dict()
    for step in (10, 20, 30, 40):
        state = {"global_step": step, "episodes": step // 10, "time": 0.0, "settings": settings}
        checkpoint.save(tmp_path, state, keep=3)
    names = [p.name for p in checkpoint.list_checkpoints(tmp_path)]
    assert names == [f"ckpt-{s:012d}.pt" for s in (40, 30, 20)]
    assert (
        '"file": "ckpt-000000000040.pt"' in (tmp_path / "checkpoints" / "latest.json").read_text()
    )


def test_load_newest_good_skips_and_quarantines_corrupt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "checkpoints").mkdir()
    for step in (1, 2):
        checkpoint.save(
            tmp_path,
            {"global_step": step, "episodes": 0, "time": 0.0, "settings": {"game": "Pong"}},
            keep=3,
        )
    newest = checkpoint.list_checkpoints(tmp_path)[0]
    newest.write_bytes(newest.read_bytes()[:-5])
    found = checkpoint.load_newest_good(tmp_path)
    assert found is not None and found[1]["global_step"] == 1
    assert "checksum mismatch" in caplog.text
    assert [p.name for p in checkpoint.list_checkpoints(tmp_path)] == ["ckpt-000000000001.pt"]


def test_import_is_light_and_keeps_boundaries() -> None:
    code = (
        "import sys, controlroom.trainer; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'torch', 'envpool')"
        " or m.startswith(('controlroom.agent', 'controlroom.tui', 'controlroom.link'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_trainer_makes_openmp_threads_sleep_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    passive_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    passive_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


_WHERE_A_BLOCK_LIVES = """
import ctypes, json, sys, torch
from controlroom.trainer.runtime import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
before = mallinfo2().hblkhd
block = torch.empty(10 << 20)  # 40 MiB, like a chunk of float frames plus activations
block.fill_(1.0)
mapped = mallinfo2().hblkhd - before
del block
print(json.dumps({"mapped": mapped, "free_in_heap": mallinfo2().fordblks}))
"""


def test_freed_tensor_memory_stays_in_the_heap_for_the_next_minibatch() -> None:
    def allocator_view(mode: str) -> dict[str, int]:
        done = subprocess.run(
            [sys.executable, "-c", _WHERE_A_BLOCK_LIVES, mode],
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(done.stdout))

    block = 40 << 20
    default, kept = allocator_view("default"), allocator_view("keep")
    # glibc's default: a mapping of its own, unmapped on free (fresh zero pages next time)
    assert default["mapped"] >= block and default["free_in_heap"] < block
    # keep_freed_memory(): carved from the heap, and still there after free for reuse
    assert kept["mapped"] == 0 and kept["free_in_heap"] >= block
