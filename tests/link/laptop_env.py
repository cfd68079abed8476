"""A real laptop-only Python: a venv holding the laptop dependencies and none of the agent extra.

It is a genuine virtual environment (its own `python`, which every child process it starts
uses too), whose site-packages links to this checkout's packages except torch, envpool,
psutil, nvidia-ml-py and numpy, with controlroom on its path from the checkout. So
`python -m controlroom ...` in it behaves as `pip install controlroom` on a laptop would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The [agent] extra and what comes with it; the laptop install has none of these.
AGENT_ONLY = ("torch", "functorch", "envpool", "numpy", "psutil", "pynvml", "nvidia", "triton")


def make_laptop_venv(root: Path) -> Path:
    """Create the venv under `root`; return its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if not _agent_only(entry.name) and not entry.name.startswith("__editable__"):
            (site / entry.name).symlink_to(entry)
    (site / "controlroom_checkout.pth").write_text(f"{REPO}\n")
    return python


def _agent_only(name: str) -> bool:
    stem = name.lower().split("-")[0].split(".")[0]
    return any(
        stem == blocked or stem.startswith(blocked + "_") for blocked in AGENT_ONLY
    ) or stem.startswith(("torch", "nvidia"))


@pytest.fixture(scope="module")
def laptop_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The laptop-only venv's python (one per test module: it takes a fraction of a second)."""
    return make_laptop_venv(tmp_path_factory.mktemp("laptop") / "venv")


def laptop_env(home: Path) -> dict[str, str]:
    """No config found anywhere but what a test names: a fresh laptop."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTROLROOM_")}
    return {**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def run_controlroom(
    python: Path, args: list[str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`python -m controlroom ARGS` on a fresh laptop in `cwd`, and how long it took."""
    start = time.monotonic()
    done = subprocess.run(
        [str(python), "-m", "controlroom", *args],
        cwd=cwd,
        env=laptop_env(cwd),
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    return done, time.monotonic() - start
