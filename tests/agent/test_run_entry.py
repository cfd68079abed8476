"""`controlroom agent run` on an install without the [agent] extra: one clear line naming
it and how to install it, a non-zero exit, no traceback, nothing created. Real
processes, the extra hidden from them as a laptop install lacks it. Every entry (the
`controlroom` command, `python -m controlroom.agent` that `ensure` starts, `python -m
controlroom.trainer` that the agent and torchrun start) says it through one mechanism,
controlroom.cli.run_entry, in the same words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from controlroom.extras import AGENT_EXTRA

# A laptop install: the extra's modules are not found at all.
HIDE_EXTRA = f"""
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {AGENT_EXTRA!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
"""

ENTRIES = [["-m", "controlroom.agent", "run"], ["-m", "controlroom", "agent", "run"]]


# The trainer's entries, with the flags of a tiny run: without torch they must not train.
TRAINER_ENTRIES = [["-m", "controlroom.trainer"], ["-m", "controlroom", "train"]]
TRAINER_FLAGS = ["--game", "CartPole-v1", "--total-steps", "64"]


def _run(argv: list[str], pythonpath: Path, state_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{pythonpath}{os.pathsep}{os.getcwd()}"}
    env.pop("CONTROLROOM_STATE_DIR", None)
    return subprocess.run(
        [sys.executable, *argv, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=pythonpath,
    )


def _one_clear_line(done: subprocess.CompletedProcess[str], names: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert names in lines[0] and "pip install 'controlroom[agent]'" in lines[0], lines[0]


@pytest.mark.parametrize("argv", ENTRIES)
def test_without_the_extra_run_says_so_in_one_line(argv: list[str], tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(HIDE_EXTRA)
    done = _run(argv, tmp_path, tmp_path / "state")
    _one_clear_line(done, "psutil")
    assert not (tmp_path / "state").exists()  # nothing touched


@pytest.mark.parametrize("argv", ENTRIES)
def test_a_broken_module_of_the_extra_is_named(argv: list[str], tmp_path: Path) -> None:
    broken = tmp_path / "psutil"
    broken.mkdir()
    (broken / "__init__.py").write_text('raise ImportError("this psutil build is broken")\n')
    done = _run(argv, tmp_path, tmp_path / "state")
    _one_clear_line(done, "cannot import psutil (ImportError: this psutil build is broken)")
    assert not (tmp_path / "state").exists()


def test_both_agent_entries_say_it_in_the_same_words(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(HIDE_EXTRA)
    said = {_run(argv, tmp_path, tmp_path / "state").stderr for argv in ENTRIES}
    assert len(said) == 1, said


def _train(argv: list[str], pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{pythonpath}{os.pathsep}{os.getcwd()}"}
    return subprocess.run(
        [sys.executable, *argv, *TRAINER_FLAGS, "--run-dir", str(pythonpath / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=pythonpath,
    )


@pytest.mark.parametrize("argv", TRAINER_ENTRIES)
def test_the_trainer_without_torch_says_so_in_one_line(argv: list[str], tmp_path: Path) -> None:
    # Exit 2 is what the agent reads as a refusal (crash_loop with this line), not a crash.
    (tmp_path / "sitecustomize.py").write_text(HIDE_EXTRA)
    _one_clear_line(_train(argv, tmp_path), "missing module 'torch'")


@pytest.mark.parametrize("argv", TRAINER_ENTRIES)
def test_a_broken_torch_is_named_by_the_trainer(argv: list[str], tmp_path: Path) -> None:
    broken = tmp_path / "torch"
    broken.mkdir()
    (broken / "__init__.py").write_text('raise ImportError("libtorch_cpu.so: cannot open")\n')
    _one_clear_line(_train(argv, tmp_path), "cannot import torch (ImportError: libtorch_cpu.so")
