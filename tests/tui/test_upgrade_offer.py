"""An agent of another version: the header says so and the install key offers the
upgrade (issue 11 §3); the same version offers nothing."""

from __future__ import annotations

from typing import Any

from controlroom import __version__
from controlroom.link.errors import LinkError
from controlroom.link.session import AgentSession
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.header import HostHeader
from controlroom.tui.widgets.host_view import HostView
from tests.tui.test_live import footer

SIZE = (120, 40)


async def _never() -> AgentSession:
    raise LinkError("refused", "recorded: no live link")


async def _install(progress: Any) -> None:
    progress("recorded: nothing installed")


def app_with_installer() -> ControlRoomApp:
    return build_app([HostTarget("tnr-0", _never, install=_install)], clock=lambda: NOW, live=False)


def state_of_version(version: str) -> dict[str, Any]:
    state = recorded_state()
    state["host"]["agent_version"] = version
    return state


async def test_another_agent_version_is_shown_and_the_upgrade_offered() -> None:
    app = app_with_installer()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(HostView).load_state(state_of_version("0.0.1"))
        await pilot.pause()
        header = str(app.query_one(HostHeader).render())
        assert f"agent 0.0.1 ≠ laptop {__version__}" in header, header
        assert ("i", "Install") in footer(app)


async def test_the_same_version_offers_no_install() -> None:
    app = app_with_installer()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(HostView).load_state(state_of_version(__version__))
        await pilot.pause()
        header = str(app.query_one(HostHeader).render())
        assert f"agent {__version__}" in header and "≠" not in header, header
        assert ("i", "Install") not in footer(app)
