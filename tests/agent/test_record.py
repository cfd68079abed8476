"""`controlroom agent record`: a real agent runs the evaluator with --record; the video
decodes (imageio-ffmpeg's reader) with one frame per step played, plus the first."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

from tests.agent.harness import AgentHarness
from tests.agent.test_evaluate_op import give_run


def decoded(path: Path) -> tuple[dict[str, object], int]:
    """The video's metadata and its frame count, decoding every frame."""
    frames = imageio_ffmpeg.read_frames(str(path))
    meta = next(frames)
    return meta, sum(1 for _ in frames)


def metadata(path: Path) -> str:
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.stderr


def test_record_writes_a_colour_pong_video_with_its_score(
    agent: AgentHarness, untrained_pong: Path, tmp_path: Path
) -> None:
    agent.start()
    give_run(agent, untrained_pong, "Pong")
    out = tmp_path / "pong.mp4"
    done = agent.cli("record", "Pong", "--episodes", "1", "--out", str(out), timeout=300)
    assert done.returncode == 0, done.stderr
    frames = int(done.stdout.split(": ")[1].split()[0])
    length = int(done.stdout.split("length mean ")[1].split()[0])
    meta, count = decoded(out)
    assert meta["size"] == (160, 210) and meta["fps"] == 15.0  # the colour screen
    assert count == frames == length + 1
    kept = list((agent.state_dir / "runs" / "Pong" / "videos").glob("*.mp4"))
    assert len(kept) == 1 and kept[0].name.startswith("Pong-step32-mean-")
    assert "title" in metadata(out) and "Pong ckpt-000000000032.pt (step 32): mean -" in metadata(
        out
    )


def test_record_of_cartpole_draws_each_step(
    agent: AgentHarness, untrained_pong: Path, trained_cartpole: Path, tmp_path: Path
) -> None:
    agent.start()
    give_run(agent, trained_cartpole, "CartPole-v1")
    out = tmp_path / "cartpole.mp4"
    done = agent.cli("record", "CartPole-v1", "--episodes", "2", "--out", str(out), timeout=300)
    assert done.returncode == 0, done.stderr
    meta, count = decoded(out)
    assert meta["size"] == (240, 120) and meta["fps"] == 50.0
    assert count == int(done.stdout.split(": ")[1].split()[0]) > 2 * 400


def test_record_refuses_clearly(agent: AgentHarness, tmp_path: Path) -> None:
    agent.start()
    for args, words in (
        (["Pong", "--episodes", "11"], "episodes: expected `int` <= 10"),
        (["Pong"], "Pong has no checkpoint on this host yet"),
        (["Pong", "--out", str(tmp_path / "x.avi")], "--out must name an .mp4 file"),
    ):
        done = agent.cli("record", *args)
        assert done.returncode == 2 and words in done.stderr, (args, done.stderr)
