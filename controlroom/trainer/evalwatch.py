"""Watching an evaluation: env 0's colour screen as a stream of PNG frames on stdout,
one JSON line each ({"frame": {"i", "w", "h", "png": base64}}), paced to a steady frame
rate. The agent reads the pipe and relays the newest frames to whoever watches
(agent/evaluation/watch.py); the result line (--json) comes last as usual.

PNG because the laptop draws it as is (textual-image opens it with Pillow) and Atari
screens, large flat areas of few colours, compress ~20:1: a 160x210 frame is ~2-5 KB.
It is written here with zlib alone, so the host needs no image library.
"""

from __future__ import annotations

import base64
import json
import struct
import sys
import time
import zlib
from typing import TextIO

import numpy as np

from controlroom.trainer.evalscreen import Frame

MAX_FPS = 30.0


def png(rgb: Frame) -> bytes:
    """An RGB image as PNG bytes: 8-bit truecolour, no filter, zlib level 6."""
    h, w = rgb.shape[:2]
    raw = np.zeros((h, w * 3 + 1), dtype=np.uint8)  # a filter-type byte (0) per row
    raw[:, 1:] = rgb.reshape(h, w * 3)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", ihdr),
            _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


class FrameStream:
    """Frames as JSON lines on stdout at `fps` (the evaluation waits for the clock)."""

    def __init__(self, fps: float, out: TextIO = sys.stdout) -> None:
        self.period, self.out = 1.0 / min(fps, MAX_FPS), out
        self.count = 0
        self.next_at = time.monotonic()

    def frame(self, rgb: Frame) -> None:
        """Send one frame once its time has come."""
        wait = self.next_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.next_at = max(self.next_at + self.period, time.monotonic() - self.period)
        h, w = rgb.shape[:2]
        data = base64.b64encode(png(rgb)).decode("ascii")
        line = {"frame": {"i": self.count, "w": w, "h": h, "png": data}}
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()
        self.count += 1

    def episode_end(self, score: float, length: int) -> None:
        """Say the score (the watcher shows it under the picture)."""
        self.out.write(json.dumps({"episode": {"score": score, "length": length}}) + "\n")
        self.out.flush()
