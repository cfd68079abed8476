"""A host that answers SSH but has no agent: the view says so plainly, the footer offers
the install key (remappable by its binding id) in place of the keys that need an agent,
and the key runs the real bootstrap over the real sshd with its progress. The host's
python is missing on purpose, so the install stops at its first check instead of
spending minutes in pip (the slow bootstrap test in tests/link runs a whole install)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from controlroom import __version__, protocol
from controlroom.config import HostConfig, loads
from controlroom.link import bootstrap
from controlroom.link.agent_channel import open_session
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.screens.main import MainScreen
from controlroom.tui.screens.modals import ConfirmScreen, ProgressScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.host_view import HostView
from controlroom.tui.widgets.no_agent import NoAgentNotice
from tests.link.realagent import CONFIG, ssh_target, wait_for
from tests.sshd import SshServer
from tests.tui.test_live import SIZE, footer, header_text

NOPE = "/nope/python3"


def bare_host_app(sshd: SshServer, tmp_path: Path, keymap: str = "") -> ControlRoomApp:
    host = HostConfig(
        ssh_alias="tnr-0",
        state_dir=str(tmp_path / "state"),
        python=NOPE,
        controlroom=str(tmp_path / "install" / "venv" / "bin" / "controlroom"),
    )

    async def install(progress: bootstrap.Progress) -> None:
        await bootstrap.install(ssh_target(sshd), host, None, progress)

    target = HostTarget("tnr-0", partial(open_session, ssh_target(sshd), host), install=install)
    return build_app([target], config=loads(CONFIG + keymap))


async def test_no_agent_is_said_plainly_and_the_key_runs_the_bootstrap(
    sshd: SshServer, tmp_path: Path
) -> None:
    app = bare_host_app(sshd, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(
            lambda: isinstance(app.screen, ConfirmScreen) and app.screen.is_mounted,
            what="the install offer",
        )
        offer = app.screen
        assert isinstance(offer, ConfirmScreen)
        # It says which torch it will install, and how to change that.
        assert "CPU-only build" in offer.question and "system_site_packages" in offer.question
        assert "pip_args" in offer.question
        await pilot.press("n")  # not now: the view keeps offering it
        await wait_for(
            lambda: isinstance(app.screen, MainScreen) and app.screen.is_mounted,
            what="offer declined",
        )
        await pilot.pause()
        assert view.no_agent and view.has_class("-no-agent")
        notice = str(app.query_one(NoAgentNotice).render())
        assert notice.startswith("no agent on tnr-0"), notice
        assert "not found" in notice and "press i to install it" in notice, notice
        assert "no agent on tnr-0" in header_text(app)
        assert footer(app) == [("i", "Install"), ("?", "Help"), ("q", "Quit")]

        await pilot.press("i")
        await wait_for(
            lambda: isinstance(app.screen, ProgressScreen) and app.screen.is_mounted,
            what="install progress",
        )
        progress = app.screen
        assert isinstance(progress, ProgressScreen)
        await wait_for(lambda: progress.finished, timeout=30, what="the install to stop")
        assert progress.lines[:2] == ["connecting to tnr-0", f"checking {NOPE} on the host"]
        assert progress.lines[-1].startswith(f"FAILED: could not run {NOPE}"), progress.lines
        await pilot.press("escape")
        await wait_for(
            lambda: isinstance(app.screen, MainScreen) and app.screen.is_mounted,
            what="progress closed",
        )
        assert view.no_agent and ("i", "Install") in footer(app)


async def test_install_key_is_remapped_and_hidden_where_an_agent_runs(
    sshd: SshServer, tmp_path: Path
) -> None:
    app = bare_host_app(sshd, tmp_path, '\n[keymap]\ninstall = "f2"\n')
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.no_agent, what="no agent found")
        await pilot.press("n")
        await pilot.pause()
        [key] = [k for k, d in footer(app) if d == "Install"]
        assert key.lower() == "f2"
        assert f"press {key} to install it" in str(app.query_one(NoAgentNotice).render())
        # As if an agent of this very version had answered (another version is offered the
        # upgrade: tests/tui/test_upgrade_offer.py). The link's own retries stop first: on
        # a slow machine one came back to this bare host and said "no agent" again.
        app.workers.cancel_group(view, "link-tnr-0")
        view.load_state(protocol.State(host=protocol.Host(agent_version=__version__)))
        view.no_agent = False
        await wait_for(lambda: "Add" in [d for _, d in footer(app)], what="the agent's keys")
        shown = [d for _, d in footer(app)]
        assert "Install" not in shown and "Add" in shown and "Plan" in shown
        assert not app.query_one(NoAgentNotice).display
