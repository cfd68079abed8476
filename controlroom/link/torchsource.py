"""Where an install gets torch: the host's own, PyTorch's CPU index, or pip's default.

PyPI's Linux torch wheel pulls in the CUDA libraries (several GB), which a host with no
NVIDIA driver cannot use. So, unless the host's pip_args or its pip configuration (pip.conf,
PIP_* variables: a mirror, offline wheels) already choose where packages come from:

- `system_site_packages = true` and the host's python imports torch: that torch is reused.
- no `nvidia-smi` on the host: torch comes from PyTorch's CPU wheel index (added as an
  extra index; its `+cpu` builds rank above PyPI's of the same version, so pip takes them).
- otherwise: pip's default (the CUDA build, which the GPU needs).

The install dialog shows `TorchSource.note`: which was chosen, and how to change it.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlroom.config import HostConfig

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# pip options by which the user has already said where packages come from.
SOURCE_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--no-index")
# One remote probe: is there an NVIDIA driver, does the host's python import torch, and
# does the host's pip configuration name where packages come from?
PROBE = (
    "if command -v nvidia-smi >/dev/null 2>&1; then echo nvidia=yes; else echo nvidia=no; fi; "
    '"$1" -c "import importlib.util as u; print(\'torch=\' + '
    "('yes' if u.find_spec('torch') else 'no'))\" 2>/dev/null || echo torch=no; "
    'if "$1" -m pip config list 2>/dev/null | grep -Eq "(index-url|find-links|no-index)="; '
    "then echo pipconf=yes; else echo pipconf=no; fi"
)
CHANGE = "to change it, set pip_args (or system_site_packages) for this host in config.toml"


@dataclass(frozen=True)
class TorchSource:
    """The choice: extra pip arguments, and one line saying what and why."""

    pip_args: tuple[str, ...]
    note: str


def probe_argv(host: HostConfig) -> list[str]:
    """The remote command whose output `choose` reads."""
    return ["sh", "-c", PROBE, "sh", host.python]


def choose(host: HostConfig, probe_output: str) -> TorchSource:
    """The torch source for this host, from what the probe printed."""
    facts = dict(line.split("=", 1) for line in probe_output.split() if "=" in line)
    has_nvidia, has_torch = facts.get("nvidia") == "yes", facts.get("torch") == "yes"
    if _user_chose(host.pip_args):
        return TorchSource((), "torch: from the package sources in this host's pip_args")
    if facts.get("pipconf") == "yes":
        return TorchSource(
            (),
            "torch: from the package sources in the host's pip "
            f"configuration (pip.conf or PIP_*); {CHANGE}",
        )
    if host.system_site_packages and has_torch:
        return TorchSource(
            (), f"torch: reusing the one {host.python} already has (system_site_packages)"
        )
    if not has_nvidia:
        reuse = (
            f"; {host.python} has torch: set system_site_packages = true to reuse it"
            if has_torch
            else ""
        )
        return TorchSource(
            ("--extra-index-url", CPU_INDEX),
            f"torch: CPU-only build from {CPU_INDEX} (no nvidia-smi on the host, so no "
            f"CUDA download){reuse}; {CHANGE}",
        )
    return TorchSource(
        (), f"torch: the CUDA build from pip's index (NVIDIA driver found); {CHANGE}"
    )


def _user_chose(pip_args: list[str]) -> bool:
    return any(arg.split("=", 1)[0] in SOURCE_OPTIONS for arg in pip_args)
