"""An install that really upgrades: which build a host has, and restarting a stale agent.

pip skips a wheel whose version is already installed, so a rebuilt checkout of the same
version would never arrive; the build id in the wheel's dist-info (wheel.py) says whether
the installed files are this build. And the agent already running keeps its old code in
memory until restarted: one that started before the installed files were written is shut
down (its trainers keep running, in their own sessions) and the next `agent ensure`, or
systemd, starts the new build, which adopts them.
"""

from __future__ import annotations

import posixpath

from controlroom.config import HostConfig
from controlroom.link.wheel import BUILD_FILE

# Prints the installed controlroom's build id ("" if none or not ours).
INSTALLED_BUILD = f"""
import importlib.metadata as md
try:
    print((md.distribution("controlroom").read_text("{BUILD_FILE}") or "").strip())
except md.PackageNotFoundError:
    print("")
"""

# argv[1] = the state dir. Prints the pid of an agent that runs code older than the
# installed build (it started before the BUILD file was written), else nothing.
STALE_AGENT = f"""
import importlib.metadata as md, os, sys
import psutil
from controlroom.agent.storage import paths
state = paths.resolve_state_dir(sys.argv[1])
dist = md.distribution("controlroom")
build = [f for f in dist.files or ()
         if f.name == "{BUILD_FILE}" and f.parent.name.endswith(".dist-info")]
installed_at = os.stat(dist.locate_file(build[0])).st_mtime if build else None
try:
    proc = psutil.Process(int(paths.lock_path(state).read_text().split()[0]))
    stale = installed_at is not None and proc.create_time() < installed_at
    if stale and "controlroom" in " ".join(proc.cmdline()):
        print(proc.pid)
except (OSError, ValueError, IndexError, psutil.Error):
    pass
"""

# argv[1] = a pid: wait (up to 60 s) until that process has exited; exit 1 if it has not.
WAIT_GONE = """
import sys
import psutil
try:
    psutil.Process(int(sys.argv[1])).wait(timeout=60)
except psutil.NoSuchProcess:
    pass
except psutil.TimeoutExpired:
    sys.exit(1)
"""


def venv_python(host: HostConfig) -> str:
    """The python of the venv that holds host.controlroom."""
    return posixpath.join(posixpath.dirname(host.controlroom), "python")


def installed_build_argv(host: HostConfig) -> list[str]:
    """Prints the host's installed build id (the command fails if there is no venv yet)."""
    return [venv_python(host), "-c", INSTALLED_BUILD]


def stale_agent_argv(host: HostConfig) -> list[str]:
    """Prints the pid of a running agent older than the installed build, if any."""
    return [venv_python(host), "-c", STALE_AGENT, host.state_dir]


def wait_gone_argv(host: HostConfig, pid: int) -> list[str]:
    """Waits until process `pid` has exited."""
    return [venv_python(host), "-c", WAIT_GONE, str(pid)]
