"""Recording an evaluation as a video: env 0's colour screen (evalscreen.py) as H.264 MP4
through imageio-ffmpeg, whose wheel carries its own ffmpeg binary (no system ffmpeg).

The scores are known only at the end, and an MP4's metadata is written with its header:
so frames go to a temporary file, which is then remuxed (stream copy, no re-encoding)
into the asked-for file with the scores as its title and comment.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from controlroom.trainer.evalscreen import Frame

ATARI_FPS = 15  # 60 Hz ALE frames, one in four seen (frame skip 4): real time
CLASSIC_FPS = 50  # CartPole's 0.02 s step


class VideoSink:
    """Frames to an MP4 file; `finish` writes the file with its scores."""

    def __init__(self, path: Path, fps: int) -> None:
        self.path, self.fps = path, fps
        self.tmp = path.with_name(f".{path.name}.part-{os.getpid()}.mp4")
        self.writer: Any = None
        self.frames = 0

    def frame(self, rgb: Frame) -> None:
        """One frame (the writer starts at the first: its size)."""
        if self.writer is None:
            import imageio_ffmpeg

            h, w = rgb.shape[:2]
            # Both sides of every screen here are even, as yuv420p needs: no resizing.
            self.writer = imageio_ffmpeg.write_frames(
                str(self.tmp), (w, h), fps=self.fps, macro_block_size=2, quality=7
            )
            self.writer.send(None)
        self.writer.send(rgb)
        self.frames += 1

    def episode_end(self, score: float, length: int) -> None:
        """Nothing to do: the video runs on across episodes."""

    def finish(self, title: str, comment: str) -> None:
        """Close the stream and write the file with its title and comment."""
        import imageio_ffmpeg

        if self.writer is None:
            return
        self.writer.close()
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(self.tmp)]
        cmd += ["-c", "copy", "-metadata", f"title={title}", "-metadata", f"comment={comment}"]
        cmd += ["-f", "mp4", str(self.path)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        finally:
            self.tmp.unlink(missing_ok=True)

    def abandon(self) -> None:
        """Drop what was written (an evaluation that failed)."""
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)
