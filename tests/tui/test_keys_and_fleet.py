"""Keys and fleets against the real agent: a [keymap] remap triggers its action and shows
in the footer in the same place, the command palette runs every action by name, one host
that refuses SSH shows its one-line error and retries while the good host's tab works,
and new game panes take their place in name order."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from textual.command import CommandList, CommandPalette
from textual.widgets import TabbedContent

from controlroom.config import loads
from controlroom.link.agent_channel import open_session
from controlroom.link.ssh import SshTarget
from controlroom.tui.app import build_app
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.screens.main import MainScreen
from controlroom.tui.screens.modals import PickScreen, PlanScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.fleet import FleetTable
from controlroom.tui.widgets.game_pane import GamePane
from controlroom.tui.widgets.header import HostHeader
from controlroom.tui.widgets.host_view import HostView
from tests.link.realagent import RealAgent, wait_for
from tests.sshd import SshServer, free_port
from tests.tui.test_live import SIZE, footer, make_app

REMAP = '\n[keymap]\nadd_game = "n"\nshow_plan = "x"\n'


async def test_remapped_key_triggers_its_action_and_keeps_its_footer_place(
    sshd: SshServer, agent: RealAgent
) -> None:
    plain_app = make_app(sshd, agent)
    async with plain_app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        default = footer(plain_app)
    app = make_app(sshd, agent, REMAP)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        await pilot.pause()
        remapped = footer(app)
        assert [d for _, d in remapped] == [d for _, d in default]  # same order
        assert ("n", "Add") in remapped and ("x", "Plan") in remapped
        assert ("a", "Add") not in remapped
        await pilot.press("a")  # the old key does nothing now
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("n")
        await wait_for(
            lambda: isinstance(app.screen, PickScreen) and app.screen.is_mounted,
            what="game picker via n",
        )
        await pilot.press("escape")
        await pilot.press("x")
        await wait_for(
            lambda: isinstance(app.screen, PlanScreen) and app.screen.is_mounted, what="plan via x"
        )
        assert any(line.startswith("n ") and "Add" in line for line in app.help_lines())


async def test_command_palette_has_every_action_and_runs_them(
    sshd: SshServer, agent: RealAgent
) -> None:
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for name in (
            "Add",
            "Remove",
            "+Envs",
            "-Envs",
            "Stop/Start",
            "Profile",
            "Ramp",
            "Log",
            "Plan",
            "Install",
            "Help",
        ):
            assert name in titles, name
        await pilot.press("ctrl+p")
        await wait_for(
            lambda: isinstance(app.screen, CommandPalette) and app.screen.is_mounted, what="palette"
        )
        await pilot.press(*"Plan")
        commands = app.screen.query_one(CommandList)
        await wait_for(lambda: commands.option_count > 0, what="palette matches")
        await pilot.press("enter")
        await wait_for(
            lambda: isinstance(app.screen, PlanScreen) and app.screen.is_mounted,
            what="plan via the palette",
        )


def _bad_alias_config(sshd: SshServer, tmp_path: Path) -> Path:
    """The fixture's ssh config plus `Host tnr-bad` on a port nobody listens on."""
    text = sshd.ssh_config.read_text()
    bad = text.replace("Host tnr-0", "Host tnr-bad").replace(
        f"Port {sshd.port}", f"Port {free_port()}"
    )
    path = tmp_path / "ssh_config"
    path.write_text(text + bad)
    return path


async def test_fleet_with_a_refusing_host(
    sshd: SshServer, agent: RealAgent, tmp_path: Path
) -> None:
    cfg = _bad_alias_config(sshd, tmp_path)
    host = agent.host_config()
    good = HostTarget("tnr-0", partial(open_session, SshTarget("tnr-0", ssh_config=cfg), host))
    bad = HostTarget("tnr-bad", partial(open_session, SshTarget("tnr-bad", ssh_config=cfg), host))
    app = build_app([good, bad], config=loads(agent.laptop_config_text(sshd)))
    async with app.run_test(size=SIZE) as pilot:
        good_view, bad_view = list(app.query(HostView))
        bad_view.link.backoff.cap = 0.5
        await wait_for(lambda: good_view.status.up, what="good host up")
        await wait_for(lambda: bad_view.status.attempt >= 3, what="bad host retrying")
        reason = bad_view.status.reason
        assert "refused" in reason and "\n" not in reason
        app.query_one("#tabs", TabbedContent).active = "tab-1"
        await pilot.pause()
        assert "refused" in str(bad_view.query_one(HostHeader).render())
        fleet = app.query_one(FleetTable)
        assert "refused" in str(fleet.get_cell("tnr-bad", "link"))
        assert "up" in str(fleet.get_cell("tnr-0", "link"))
        app.query_one("#tabs", TabbedContent).active = "tab-0"
        await pilot.pause()
        assert good_view.state is not None
        first = good_view.state.host.now
        await wait_for(
            lambda: good_view.state is not None and good_view.state.host.now > first,
            what="the good host keeps updating",
        )
        await pilot.press("a")
        await wait_for(
            lambda: isinstance(app.screen, PickScreen) and app.screen.is_mounted,
            what="picker on good tab",
        )


async def test_new_panes_take_their_place_in_name_order() -> None:
    async def never() -> object:
        raise OSError

    app = build_app([HostTarget("tnr-0", never)], clock=lambda: NOW, live=False)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        state = recorded_state()
        games = state["games"]
        state["games"] = {"Pong": games["Pong"]}
        view.load_state(state)
        await pilot.pause()
        for name in ("MsPacman", "Breakout"):  # arriving out of order
            state["games"] = {**state["games"], name: games[name]}
            view.load_state(state)
            await pilot.pause()
        assert [p.game for p in app.query(GamePane)] == ["Breakout", "MsPacman", "Pong"]
