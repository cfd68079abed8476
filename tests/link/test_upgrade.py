"""An install that upgrades: build ids in the wheel, and where torch comes from (the fast
parts; tests/link/test_bootstrap.py runs a same-version rebuild end to end)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from controlroom.config import HostConfig
from controlroom.link import bootstrap, torchsource, upgrade
from controlroom.link.agent_channel import remote_command
from controlroom.link.ssh import connect
from controlroom.link.wheel import BUILD_FILE, build_wheel
from tests.link.realagent import ssh_target
from tests.sshd import SshServer

PYTHON = sys.executable


def test_a_rebuild_of_one_version_has_another_build_id(tmp_path: Path) -> None:
    first = build_wheel(tmp_path / "a")
    again = build_wheel(tmp_path / "b")
    changed = build_wheel(tmp_path / "c", [("_marker.txt", b"edited checkout")])
    assert first.build == again.build  # the same files: the same build
    assert changed.build != first.build
    assert first.path.name == changed.path.name  # same version, same file name
    with zipfile.ZipFile(changed.path) as zf:
        built = [n for n in zf.namelist() if n.endswith(f".dist-info/{BUILD_FILE}")]
        assert [zf.read(built[0]).decode().strip()] == [changed.build]
        assert "controlroom/_marker.txt" in zf.namelist()


def test_installed_build_is_read_from_a_real_install(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", [("_marker.txt", b"x")])
    target = tmp_path / "site"
    subprocess.run(
        [
            PYTHON,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--target",
            str(target),
            str(wheel.path),
        ],
        check=True,
    )
    out = subprocess.run(
        [PYTHON, "-S", "-c", upgrade.INSTALLED_BUILD],
        check=True,
        text=True,
        capture_output=True,
        env={"PYTHONPATH": str(target)},
        cwd=tmp_path,
    ).stdout
    assert out.strip() == wheel.build


def _host(**kw: object) -> HostConfig:
    return HostConfig(ssh_alias="tnr-0", python=PYTHON, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("probe", "host", "index"),
    [
        ("nvidia=no torch=no pipconf=no", _host(), True),
        ("nvidia=no torch=yes pipconf=no", _host(), True),
        ("nvidia=yes torch=no pipconf=no", _host(), False),
        ("nvidia=no torch=yes pipconf=no", _host(system_site_packages=True), False),
        ("nvidia=no torch=no pipconf=yes", _host(), False),
        (
            "nvidia=no torch=no pipconf=no",
            _host(pip_args=["--index-url=http://mirror/simple"]),
            False,
        ),
        ("nvidia=no torch=no pipconf=no", _host(pip_args=["--no-index", "-f", "/wheels"]), False),
    ],
)
def test_torch_source(probe: str, host: HostConfig, index: bool) -> None:
    chosen = torchsource.choose(host, probe)
    assert (torchsource.CPU_INDEX in chosen.pip_args) is index
    assert chosen.note.startswith("torch: ") and "\n" not in chosen.note
    if index:
        assert "CPU-only" in chosen.note and "pip_args" in chosen.note
    if "torch=yes" in probe and index:
        assert "system_site_packages = true" in chosen.note  # says how to reuse it
    command = bootstrap.pip_command(host, "/w/controlroom.whl", "agent", chosen)
    assert (torchsource.CPU_INDEX in command) is index


async def test_the_probe_sees_this_host_as_it_is(sshd: SshServer) -> None:
    conn = await connect(ssh_target(sshd))
    try:
        done = await conn.run(remote_command(torchsource.probe_argv(_host())), check=True)
    finally:
        conn.close()
    facts = dict(line.split("=", 1) for line in str(done.stdout).split())
    assert facts["nvidia"] == ("yes" if shutil.which("nvidia-smi") else "no")
    assert facts["torch"] == "yes"  # this very python has torch
    assert facts["pipconf"] in ("yes", "no")
