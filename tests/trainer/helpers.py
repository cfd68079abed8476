"""Helpers that run the trainer as a real subprocess, as the agent will."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# Tiny Pong: 2 envs x 16 steps, 2 minibatches of 16.
TINY_PONG = [
    "--game",
    "Pong",
    "--num-envs",
    "2",
    "--num-steps",
    "16",
    "--minibatch-size",
    "16",
    "--torch-threads",
    "1",
    "--heartbeat-interval",
    "1",
]


def trainer_cmd(run_dir: Path, *args: str) -> list[str]:
    """The command line the agent would use."""
    return [
        sys.executable,
        "-W",
        "ignore",
        "-m",
        "controlroom.trainer",
        "--run-dir",
        str(run_dir),
        *args,
    ]


def trainer_env(**extra: str) -> dict[str, str]:
    """Environment for a trainer subprocess."""
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def run_trainer(
    run_dir: Path, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run to completion and capture output."""
    return subprocess.run(
        trainer_cmd(run_dir, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=trainer_env(**env),
        cwd=REPO,
        check=False,
    )


def start_trainer(run_dir: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """Start in the background."""
    return subprocess.Popen(
        trainer_cmd(run_dir, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=trainer_env(**env),
        cwd=REPO,
    )


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All complete lines of metrics.jsonl."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(predicate: Callable[[], bool], timeout: float = 90) -> None:
    """Poll until predicate() holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the trainer")
        time.sleep(0.1)


def kinds(lines: list[dict[str, Any]]) -> list[str]:
    """The kind of each metrics line."""
    return [line["kind"] for line in lines]
