"""The architecture contracts of pyproject's [tool.importlinter] hold, and each one bites.

`lint-imports` runs on the real tree. Then, per contract, on a copy of the package with
one bad import injected, it must report that contract broken and name the module: a
contract that cannot fail checks nothing. The copy is read through PYTHONPATH, so the real
tree is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _config() -> dict[str, Any]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    section: dict[str, Any] = pyproject["tool"]["importlinter"]
    return section


def _lint(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: pip install -e '.[dev]' (import-linter)")
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = result.stdout.count("KEPT")
    assert kept == len(_config()["contracts"]), result.stdout


def test_every_contract_has_a_violation_test() -> None:
    assert {c["id"] for c in _config()["contracts"]} == {v[0] for v in VIOLATIONS}


# (contract id, file under controlroom/, what gets appended to it). Imports inside
# functions count as much as those at the top: the laptop would import them when called.
VIOLATIONS = [
    ("laptop-half", "tui/format.py", "import torch"),
    ("laptop-half", "link/errors.py", "def _later() -> None:\n    import psutil"),
    ("laptop-half", "tui/key_requests.py", "from controlroom.agent.storage import paths"),
    ("laptop-half", "link/local.py", "from controlroom.trainer import model"),
    ("shared-modules", "protocol.py", "import textual"),
    ("shared-modules", "config.py", "from controlroom.tui import format"),
    ("shared-modules", "games.py", "import numpy"),
    ("host-half", "agent/storage/store.py", "import textual"),
    ("host-half", "trainer/settings.py", "from controlroom.link import errors"),
    ("trainer-alone", "trainer/metrics.py", "from controlroom.agent.storage import paths"),
    ("trainer-alone", "trainer/runtime.py", "import asyncssh"),
    ("agent-runs-trainers", "agent/storage/paths.py", "from controlroom.trainer import settings"),
    ("agent-runs-trainers", "agent/storage/store.py", "def _later() -> None:\n    import torch"),
    ("pure-policy", "agent/policy/guard.py", "from controlroom.agent.storage import store"),
    ("pure-policy", "agent/policy/plan_math.py", "import subprocess"),
    ("pure-policy", "agent/policy/figures.py", "def _later() -> None:\n    import asyncio"),
    (
        "pure-learning",
        "agent/learning/diagnosis.py",
        "from controlroom.agent.supervision import runfiles",
    ),
    ("pure-learning", "agent/learning/history.py", "def _later() -> None:\n    import sqlite3"),
    # Each floor of the agent's rooms, from above and below (docs/agent-internals.md).
    ("agent-rooms", "agent/daemon.py", "from controlroom.agent.hostcli import client"),
    (
        "agent-rooms",
        "agent/core.py",
        "def _later() -> None:\n    from controlroom.agent import daemon",
    ),
    ("agent-rooms", "agent/policy/engine.py", "from controlroom.agent import core_ops"),
    ("agent-rooms", "agent/learning/history_files.py", "from controlroom.agent import core"),
    # evaluation files scores into learning's histories; learning never runs an evaluator.
    (
        "agent-rooms",
        "agent/learning/histories.py",
        "from controlroom.agent.evaluation import runner",
    ),
    ("agent-rooms", "agent/evaluation/runner.py", "from controlroom.agent.hostcli import client"),
    # gamerun once took diagnosis's Finding: supervision records findings, learning makes them.
    (
        "agent-rooms",
        "agent/supervision/gamerun.py",
        "from controlroom.agent.learning import diagnosis",
    ),
    ("agent-rooms", "agent/storage/store.py", "from controlroom.agent.supervision import process"),
    ("agent-rooms", "agent/storage/paths.py", "from controlroom.agent.learning import history"),
    ("agent-rooms", "agent/readings/nvml.py", "from controlroom.agent.errors import OpError"),
    # config imports games; the trainer's ppo imports model; storage.configfile imports paths.
    ("no-cycles", "games.py", "import controlroom.config"),
    ("no-cycles", "trainer/model.py", "from controlroom.trainer import ppo"),
    ("no-cycles", "agent/storage/paths.py", "from controlroom.agent.storage import configfile"),
]


def _contract(contract_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in _config()["contracts"] if c["id"] == contract_id]
    [contract] = found
    return contract


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package and its contracts, kept clean; each test copies it again."""
    root = tmp_path_factory.mktemp("pristine")
    shutil.copytree(
        REPO / "controlroom",
        root / "controlroom",
        ignore=shutil.ignore_patterns("__pycache__", "assets"),
    )
    (root / "pyproject.toml").write_text(tomli_w.dumps({"tool": {"importlinter": _config()}}))
    result = _lint(root)
    assert result.returncode == 0, "the clean copy must pass: " + result.stdout + result.stderr
    return root


@pytest.mark.parametrize(
    ("contract_id", "target", "line"), VIOLATIONS, ids=[f"{c}:{t}" for c, t, _ in VIOLATIONS]
)
def test_contract_catches_a_bad_import(
    pristine: Path, tmp_path: Path, contract_id: str, target: str, line: str
) -> None:
    shutil.copytree(pristine, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "controlroom" / target
    assert path.is_file(), f"{target} moved: pick another module to inject into"
    path.write_text(path.read_text() + f"\n\n{line}  # injected\n")
    result = _lint(tmp_path, "--contract", contract_id)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    # The report wraps long names and may leave no space before the verdict.
    squashed = "".join(out.split())
    assert "".join(f"{_contract(contract_id)['name']}BROKEN".split()) in squashed, out
    module = "controlroom." + target.removesuffix(".py").replace("/", ".")
    if _contract(contract_id)["type"] == "acyclic_siblings":
        # A cycle is reported inside its package as the imports to cut, "- .games -> .config",
        # either side of the injected one.
        package, leaf = module.rsplit(".", 1)
        assert f"No cycles are allowed in {package}." in out, out
        cuts = re.findall(r"^- \.([\w.]+) -> \.([\w.]+)", out, flags=re.MULTILINE)
        assert any(leaf in cut for cut in cuts), out
    else:
        assert module in out, out


def test_a_new_agent_module_must_take_a_floor(pristine: Path, tmp_path: Path) -> None:
    """agent-rooms is exhaustive: a module or room directly under controlroom/agent/ that
    the contract does not place breaks it, so no room lands without a floor. (The rooms
    the contract lists as optional, in parentheses, may come and go.)"""
    shutil.copytree(pristine, tmp_path, dirs_exist_ok=True)
    (tmp_path / "controlroom" / "agent" / "stray.py").write_text('"""Placed nowhere."""\n')
    result = _lint(tmp_path, "--contract", "agent-rooms")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "controlroom.agent.stray" in out, out
