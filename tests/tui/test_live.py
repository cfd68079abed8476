"""The app against a real agent reached through the real sshd: keys start and stop real
trainers, panes follow real metrics, a dropped link goes stale and comes back."""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.widgets._footer import FooterKey

from controlroom import protocol
from controlroom.config import loads
from controlroom.link.agent_channel import open_session
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.screens.main import MainScreen
from controlroom.tui.screens.modals import ConfirmScreen, PickScreen
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.game_pane import GamePane
from controlroom.tui.widgets.header import HostHeader
from controlroom.tui.widgets.host_view import HostView
from controlroom.tui.widgets.policy import PHASES, PolicyPanel
from tests.link.realagent import RealAgent, ssh_target, wait_for
from tests.sshd import SshServer

SIZE = (120, 40)


def make_app(
    sshd: SshServer, agent: RealAgent, extra_config: str = "", *, readonly: bool = False
) -> ControlRoomApp:
    """The app on tnr-0 through the test sshd; extra_config is appended to the laptop's
    config.toml (a [keymap], say)."""
    target = HostTarget("tnr-0", partial(open_session, ssh_target(sshd), agent.host_config()))
    config = loads(agent.laptop_config_text(sshd) + extra_config)
    return build_app([target], config=config, readonly=readonly)


def footer(app: ControlRoomApp) -> list[tuple[str, str]]:
    """(key, description) of each footer entry, in order."""
    return [(k.key_display, k.description) for k in app.screen.query(FooterKey)]


def games(app: ControlRoomApp) -> dict[str, Any]:
    state = app.query_one(HostView).state
    return {} if state is None else dict(protocol.plain(state)["games"])


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


def header_text(app: ControlRoomApp) -> str:
    return str(app.query_one(HostHeader).render())


async def test_add_pong_then_watch_metrics_then_remove(sshd: SshServer, agent: RealAgent) -> None:
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        await pilot.press("a")
        await wait_for(
            lambda: isinstance(app.screen, PickScreen) and app.screen.is_mounted, what="game picker"
        )
        picker = app.screen.query_one("#choices")
        picker.highlighted = [o.id for o in picker.options].index("Pong")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_for(
            lambda: pid_alive(games(app).get("Pong", {}).get("pid")),
            timeout=30,
            what="Pong's trainer process running",
        )
        await wait_for(
            lambda: (games(app)["Pong"].get("metrics") or {}).get("sps") is not None,
            timeout=120,
            what="Pong metrics",
        )
        await pilot.pause()
        pane = app.query_one("#game-Pong", GamePane)
        assert "steps/s" in str(pane.render()) and "- steps/s" not in str(pane.render())
        pid = games(app)["Pong"]["pid"]
        await pilot.press("d")
        await wait_for(
            lambda: isinstance(app.screen, ConfirmScreen) and app.screen.is_mounted, what="confirm"
        )
        await pilot.press("y")
        await wait_for(lambda: "Pong" not in games(app), timeout=30, what="Pong removed")
        await wait_for(lambda: not pid_alive(pid), timeout=30, what="trainer gone")
        await pilot.pause()
        assert not app.query("#game-Pong")


async def test_killed_connection_goes_stale_then_catches_up(
    sshd: SshServer, agent: RealAgent
) -> None:
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        view.link.backoff.cap = 1.0
        sshd.kill_connections()
        await wait_for(lambda: view.has_class("-stale"), what="stale mark")
        await pilot.pause()
        assert "link lost" in header_text(app)
        await wait_for(lambda: view.status.up and not view.has_class("-stale"), what="relink")
        sshd.stop()
        try:
            await wait_for(lambda: view.has_class("-stale"), what="stale while sshd is down")
            # The header ages its figures on its own timer: wait for it, not for time.
            await wait_for(lambda: "old" in header_text(app), what="the data's age said")
            assert "data" in header_text(app) and "old" in header_text(app)
        finally:
            sshd.start()
        await wait_for(
            lambda: view.status.up and not view.has_class("-stale"),
            timeout=30,
            what="back after sshd restarts",
        )
        assert view.state and view.state.host.agent_version


async def test_readonly_refuses_every_action(sshd: SshServer, agent: RealAgent) -> None:
    app = make_app(sshd, agent, readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        before = set(games(app))
        for key in ("a", "d", "s", "plus", "minus", "p", "r"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, MainScreen), key
        assert set(games(app)) == before
        assert "READ-ONLY" in header_text(app)
        assert any("read-only" in n.message for n in app._notifications)


async def test_ramp_key_shows_the_agents_ramp_in_the_policy_panel(
    sshd: SshServer, agent: RealAgent
) -> None:
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE) as pilot:
        view, panel = app.query_one(HostView), app.query_one(PolicyPanel)

        def ramp() -> protocol.RampView | None:
            return None if view.state is None else view.state.policy.ramp

        def ramp_on() -> bool:
            r = ramp()
            return r is not None and r.enabled

        await wait_for(lambda: view.status.up and ramp() is not None, what="the agent's ramp")
        if ramp_on():  # left on by an earlier test: start from off
            await pilot.press("r")
            await wait_for(lambda: not ramp_on(), what="ramp off")
        await pilot.pause()
        assert "ramp off" in str(panel.render())
        await pilot.press("r")
        try:
            await wait_for(ramp_on, what="ramp on in the agent")
            await pilot.pause()
            shown, r = str(panel.render()), ramp()
            assert r is not None
            assert f"ramp {PHASES[r.phase]}" in shown, shown
            assert f"step {r.step}/{r.steps - 1}" in shown, shown
            if r.next_action:
                assert f"next: {r.next_action} in" in shown, shown
        finally:
            await pilot.press("r")
            await wait_for(lambda: not ramp_on(), what="ramp off again")
        await pilot.pause()
        assert "ramp off" in str(panel.render())
