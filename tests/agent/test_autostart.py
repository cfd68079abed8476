"""Autostart: the unit file's text, and the crontab fallback for real (crontab -l/-)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlroom.agent.hostcli import autostart


@pytest.fixture
def saved_crontab() -> Iterator[None]:
    if shutil.which("crontab") is None:
        pytest.skip("cron is not installed (apt-get install -y cron)")
    before = autostart.read_crontab()
    try:
        yield
    finally:
        autostart.write_crontab(before)


def test_unit_text_restarts_always_and_spares_trainers(tmp_path: Path) -> None:
    text = autostart.unit_text(tmp_path / "state dir", None)
    assert "Restart=always" in text and "KillMode=process" in text
    exec_line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
    assert exec_line.startswith(f"ExecStart={sys.executable} -m controlroom.agent run")
    assert f"'{tmp_path / 'state dir'}'" in exec_line  # quoted, never split by a space
    if shutil.which("systemd-analyze"):
        unit = tmp_path / autostart.UNIT_NAME
        unit.write_text(text)
        subprocess.run(["systemd-analyze", "verify", "--user", str(unit)], check=False)


def test_cron_install_is_idempotent_and_uninstall_removes_only_ours(
    tmp_path: Path,
    saved_crontab: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    autostart.write_crontab(["0 3 * * * echo keep-me"])
    state = tmp_path / "state"
    lines = autostart.cron_lines(state, None)
    assert autostart.set_cron(lines) is True
    assert "added" in capsys.readouterr().out
    assert autostart.set_cron(lines) is False  # idempotent
    assert "unchanged" in capsys.readouterr().out
    current = autostart.read_crontab()
    assert current[0] == "0 3 * * * echo keep-me"
    assert any(x.startswith("@reboot ") and " ensure " in x for x in current)
    assert any(x.startswith("* * * * * ") for x in current)
    assert autostart.uninstall() == 0
    assert autostart.read_crontab() == ["0 3 * * * echo keep-me"]
    assert autostart.uninstall() == 0  # twice is fine
    assert "unchanged" in capsys.readouterr().out


def test_install_cron_mode_starts_the_agent_via_ensure(
    tmp_path: Path, saved_crontab: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTROLROOM_BOOT_ID_FILE", str(tmp_path / "boot"))
    (tmp_path / "boot").write_text("b\n")
    state = tmp_path / "state"
    try:
        assert autostart.install(state, "cron", None) == 0
        assert autostart.is_running(state)
        assert autostart.ensure(state, None) == 0  # already running: nothing started
    finally:
        autostart.uninstall()
        pid = int((state / "agent.lock").read_text())
        subprocess.run(["kill", str(pid)], check=False)
