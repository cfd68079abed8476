"""A finished tiny Pong run, made once and copied per test (each run costs seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.trainer.helpers import TINY_PONG, run_trainer


@pytest.fixture(scope="session")
def _pong32_origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("pong32")
    result = run_trainer(run_dir, *TINY_PONG, "--total-steps", "32")
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.fixture
def pong32(_pong32_origin: Path, tmp_path: Path) -> Path:
    """A run dir holding one good Pong checkpoint at global step 32."""
    run_dir = tmp_path / "run"
    shutil.copytree(_pong32_origin, run_dir)
    return run_dir
