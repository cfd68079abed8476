"""The halves stay apart: host code never imports textual; laptop code never imports torch.

Each side is imported in a fresh interpreter, module by module, and `sys.modules` is read
after each import, so the test names the module that pulled the forbidden one in.
The same rules, read from the source instead (imports inside functions too), are the
import-linter contracts in pyproject.toml, checked by tests/test_contracts.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = r"""
import importlib, json, pkgutil, sys
roots, forbidden = json.loads(sys.argv[1]), json.loads(sys.argv[2])
names = []
for root in roots:
    mod = importlib.import_module(root)
    names.append(root)
    if hasattr(mod, "__path__"):
        names += [m.name for m in pkgutil.walk_packages(mod.__path__, root + ".")
                  if not m.name.endswith("__main__")]
bad = {}
for name in names:
    importlib.import_module(name)
    hits = [f for f in forbidden if any(m == f or m.startswith(f + ".") for m in sys.modules)]
    if hits:
        bad[name] = hits
        break
print(json.dumps({"checked": names, "bad": bad}))
"""

HOST_SIDE = [
    "controlroom.config",
    "controlroom.protocol",
    "controlroom.games",
    "controlroom.agent",
    "controlroom.trainer",
]
LAPTOP_SIDE = [
    "controlroom.cli",
    "controlroom.config",
    "controlroom.protocol",
    "controlroom.tui",
    "controlroom.link",
]


def _probe(roots: list[str], forbidden: list[str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(roots), json.dumps(forbidden)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize(
    ("roots", "forbidden"),
    [
        (HOST_SIDE, ["textual"]),
        (
            LAPTOP_SIDE,
            [
                "torch",
                "envpool",
                "pynvml",
                "psutil",
                "numpy",
                "controlroom.agent",
                "controlroom.trainer",
            ],
        ),
        (
            ["controlroom.trainer"],
            ["controlroom.agent", "controlroom.tui", "controlroom.link", "asyncssh"],
        ),
    ],
    ids=["host-side-without-textual", "laptop-side-without-torch", "trainer-alone"],
)
def test_side_never_imports_forbidden(roots: list[str], forbidden: list[str]) -> None:
    result = _probe(roots, forbidden)
    assert result["bad"] == {}, f"forbidden imports: {result['bad']}"
    assert len(result["checked"]) >= len(roots)  # type: ignore[arg-type]
