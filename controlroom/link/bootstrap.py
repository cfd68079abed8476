"""Install the agent on a fresh host over SSH, step by step.

A venv on the host, this very controlroom build packed as a wheel and uploaded over
SFTP, installed with the [agent] extra (torch from where torchsource.py chooses), the
laptop's config as the agent's seed, autostart installed, an agent of an older build
restarted, agent started. Each step reports one line through `progress`. Run again, it
upgrades: a new version, or the same version rebuilt (upgrade.py).

Everything lands under the install folder that holds the venv (host.controlroom is
`<folder>/venv/bin/controlroom`): the venv, `<folder>/wheels/` and `<folder>/seed-config.toml`.
"""

from __future__ import annotations

import posixpath
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import asyncssh

from controlroom import __version__
from controlroom.config import HostConfig
from controlroom.link import torchsource, upgrade
from controlroom.link.agent_channel import remote_command
from controlroom.link.errors import NO_AGENT, LinkError
from controlroom.link.ssh import SshTarget, connect, explain
from controlroom.link.wheel import Wheel, build_wheel

Progress = Callable[[str], None]
MIN_PYTHON = (3, 11)
PIP_TIMEOUT_S = 3600


def venv_dir(host: HostConfig) -> str:
    """The venv that holds host.controlroom (…/venv/bin/controlroom -> …/venv)."""
    return posixpath.dirname(posixpath.dirname(host.controlroom))


def install_dir(host: HostConfig) -> str:
    """The folder that holds the venv, the uploaded wheel and the seed config."""
    return posixpath.dirname(venv_dir(host))


def venv_command(host: HostConfig) -> list[str]:
    """`python -m venv [--system-site-packages] VENV` as the host's config asks."""
    system = ["--system-site-packages"] if host.system_site_packages else []
    return [host.python, "-m", "venv", *system, venv_dir(host)]


def pip_command(
    host: HostConfig, wheel: str, extras: str, torch: torchsource.TorchSource | None = None
) -> list[str]:
    """The venv's pip installing the uploaded wheel (with extras, the torch source's
    arguments and the host's pip_args)."""
    spec = f"{wheel}[{extras}]" if extras else wheel
    source = list(torch.pip_args) if torch is not None else []
    return [
        upgrade.venv_python(host),
        "-m",
        "pip",
        "install",
        "--upgrade",
        *source,
        *host.pip_args,
        spec,
    ]


def reinstall_command(host: HostConfig, wheel: str) -> list[str]:
    """Put this build's files in place over a same-version install (deps stay as they are)."""
    return [
        upgrade.venv_python(host),
        "-m",
        "pip",
        "install",
        "--force-reinstall",
        "--no-deps",
        *host.pip_args,
        wheel,
    ]


async def install(
    target: SshTarget,
    host: HostConfig,
    config_path: Path | None,
    progress: Progress,
    *,
    extras: str = "agent",
    extra_files: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Install (or upgrade) and start the agent on `target`; LinkError says which step
    failed. extra_files: more files for the wheel (wheel.build_wheel)."""
    progress(f"connecting to {target.alias}")
    conn = await connect(target)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            wheel = build_wheel(Path(tmp), extra_files)
            await _install_on(conn, host, config_path, progress, extras=extras, wheel=wheel)
    except (OSError, asyncssh.Error) as exc:
        raise explain(target.alias, exc) from None
    finally:
        conn.close()


async def _install_on(
    conn: asyncssh.SSHClientConnection,
    host: HostConfig,
    config_path: Path | None,
    progress: Progress,
    *,
    extras: str,
    wheel: Wheel,
) -> None:
    await _check_python(conn, host, progress)
    home = (await _step(conn, ["sh", "-c", 'printf %s "$HOME"'], "find $HOME")).strip()
    probe = await _step(conn, torchsource.probe_argv(host), "look for an NVIDIA driver")
    torch = torchsource.choose(host, probe)
    progress(torch.note)
    progress(f"creating the venv {venv_dir(host)}")
    await _step(conn, venv_command(host), "create the venv")
    remote_wheel, config = await _upload(
        conn, _expand(install_dir(host), home), wheel, config_path, progress
    )
    progress(
        f"installing controlroom {__version__} (build {wheel.build}) with [{extras}] "
        "(pip; torch may take minutes)"
    )
    pip = pip_command(host, remote_wheel, extras, torch)
    await _step(conn, pip, "pip install", progress, timeout=PIP_TIMEOUT_S)
    await _same_build(conn, host, remote_wheel, wheel.build, progress)
    seed = ["--config", config] if config else []
    progress("installing autostart (systemd user unit, else cron)")
    await _agent(conn, host, ["install", *seed], "install autostart", progress)
    await _restart_stale(conn, host, progress)
    progress("starting the agent")
    await _agent(conn, host, ["ensure", *seed], "start the agent", progress)
    progress("the agent is running")


async def _same_build(
    conn: asyncssh.SSHClientConnection,
    host: HostConfig,
    remote_wheel: str,
    build: str,
    progress: Progress,
) -> None:
    """pip keeps an installed version as it is; a rebuild of it must still land."""
    installed = await _installed_build(conn, host)
    if installed == build:
        return
    progress(
        f"controlroom {__version__} was there as build {installed or 'unknown'}: "
        f"reinstalling build {build}"
    )
    await _step(conn, reinstall_command(host, remote_wheel), "reinstall controlroom", progress)
    installed = await _installed_build(conn, host)
    if installed != build:
        raise LinkError(
            NO_AGENT,
            f"the host still has build {installed or 'unknown'} of "
            f"controlroom after reinstalling build {build}",
        )


async def _installed_build(conn: asyncssh.SSHClientConnection, host: HostConfig) -> str:
    out = await _step(conn, upgrade.installed_build_argv(host), "read the installed build")
    return out.strip()


async def _restart_stale(
    conn: asyncssh.SSHClientConnection, host: HostConfig, progress: Progress
) -> None:
    """An agent started before these files were installed runs the old code: stop it
    (trainers keep running) so that the next start runs this build and adopts them."""
    out = (await _step(conn, upgrade.stale_agent_argv(host), "look for an older agent")).strip()
    if not out.isdigit():
        return
    progress(
        f"restarting the running agent (pid {out}) onto the new build; "
        "its trainers keep running and are adopted"
    )
    await _agent(conn, host, ["shutdown"], "stop the older agent", progress)
    await _step(conn, upgrade.wait_gone_argv(host, int(out)), "wait for the older agent to exit")


async def _check_python(
    conn: asyncssh.SSHClientConnection, host: HostConfig, progress: Progress
) -> None:
    progress(f"checking {host.python} on the host")
    probe = [host.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    out = await _step(conn, probe, f"run {host.python}")
    major, minor = (int(x) for x in out.strip().split("."))
    if (major, minor) < MIN_PYTHON:
        raise LinkError(
            NO_AGENT,
            f"{host.python} on the host is {major}.{minor}; controlroom needs >= 3.11 "
            "(set python = ... for this host in config.toml)",
        )


def _expand(path: str, home: str) -> str:
    """A host path with `~` spelled out (SFTP does not expand it)."""
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path


async def _upload(
    conn: asyncssh.SSHClientConnection,
    folder: str,
    wheel: Wheel,
    config_path: Path | None,
    progress: Progress,
) -> tuple[str, str | None]:
    """The wheel into `folder`/wheels, the laptop's config as `folder`/seed-config.toml."""
    progress(f"uploading {wheel.path.name} over SFTP to {folder}/wheels")
    async with conn.start_sftp_client() as sftp:
        await sftp.makedirs(posixpath.join(folder, "wheels"), exist_ok=True)
        remote_wheel = posixpath.join(folder, "wheels", wheel.path.name)
        await sftp.put(str(wheel.path), remote_wheel)
        remote_config = None
        if config_path is not None:
            remote_config = posixpath.join(folder, "seed-config.toml")
            progress(f"uploading {config_path} as the agent's seed config")
            await sftp.put(str(config_path), remote_config)
    return remote_wheel, remote_config


async def _agent(
    conn: asyncssh.SSHClientConnection,
    host: HostConfig,
    args: list[str],
    what: str,
    progress: Progress,
) -> None:
    cmd = [host.controlroom, "agent", *args, "--state-dir", host.state_dir]
    await _step(conn, cmd, what, progress)


async def _step(
    conn: asyncssh.SSHClientConnection,
    argv: list[str],
    what: str,
    progress: Progress | None = None,
    timeout: float = 300,
) -> str:
    """Run one remote command; stream its lines to `progress`; LinkError on failure."""
    async with conn.create_process(remote_command(argv), stderr=asyncssh.STDOUT) as proc:
        lines: list[str] = []
        async for line in proc.stdout:
            lines.append(line.rstrip())
            if progress is not None and line.strip():
                progress("  " + line.rstrip()[:160])
        done = await proc.wait(timeout=timeout)
    if done.exit_status != 0:
        tail = next((ln for ln in reversed(lines) if ln.strip()), "")
        raise LinkError(NO_AGENT, f"could not {what} (exit {done.exit_status}): {tail}")
    return "\n".join(lines)
