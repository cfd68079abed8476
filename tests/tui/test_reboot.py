"""The issue's reboot story, for real: the app follows a real agent through the real sshd;
sshd stops (the link drops) and the view marks its data stale with its age; meanwhile the
host "reboots" (agent and trainers SIGKILLed, a new boot id, the agent started again);
sshd comes back, the app reconnects by itself and catches up from the agent's snapshot,
the reboot it missed included: two boots on the timeline, the header's count, the event."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import RichLog

from controlroom import protocol
from controlroom.agent.storage.boots import BOOT_ID_FILE_ENV
from controlroom.config import loads
from controlroom.link.agent_channel import open_session
from controlroom.tui.app import ControlRoomApp, build_app
from controlroom.tui.format import duration
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.host_view import HostView
from controlroom.tui.widgets.timeline import RebootTimeline
from tests.link.realagent import (
    RealAgent,
    answers,
    pid_alive_path,
    ssh_target,
    start_agent,
    wait_for,
)
from tests.sshd import SshServer
from tests.tui.test_live import SIZE, header_text


@pytest.fixture
def rebootable(tmp_path: Path) -> Iterator[tuple[RealAgent, Path]]:
    """An agent of its own whose boot id is read from a file the test rewrites."""
    boot_file = tmp_path / "boot_id"
    boot_file.write_text("boot-1\n")
    env = {**os.environ, BOOT_ID_FILE_ENV: str(boot_file)}
    env.pop("CONTROLROOM_STATE_DIR", None)
    agent = start_agent(tmp_path / "host", env=env)
    try:
        yield agent, boot_file
    finally:
        agent.stop()


def make_app(sshd: SshServer, agent: RealAgent) -> ControlRoomApp:
    target = HostTarget("tnr-0", partial(open_session, ssh_target(sshd), agent.host_config()))
    return build_app([target], config=loads(agent.laptop_config_text(sshd)))


def event_lines(app: ControlRoomApp) -> list[str]:
    return [strip.text for strip in app.query_one("#events", RichLog).lines]


def timeline_text(app: ControlRoomApp) -> str:
    return str(app.query_one(RebootTimeline).render())


def cartpole(view: HostView) -> dict[str, Any]:
    game = None if view.state is None else view.state.games.get("CartPole")
    return {} if game is None else protocol.plain(game)


async def heartbeat_carries_cartpole(view: HostView) -> bool:
    """The agent's last heartbeat of this boot recorded the game (its load at the reboot)."""
    boots = (await view.request("reboots"))["boots"]
    return bool(boots[-1]["load"].get("trainers") == 1 and boots[-1]["uptime_s"] > 0)


async def test_a_missed_reboot_shows_after_the_link_comes_back(
    sshd: SshServer, rebootable: tuple[RealAgent, Path]
) -> None:
    agent, boot_file = rebootable
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        view.link.backoff.cap = 2.0  # the product's 15 s cap, shortened for the test
        await view.request("add_game", game="CartPole")
        await wait_for(
            lambda: pid_alive_path(cartpole(view).get("pid")),
            timeout=60,
            what="CartPole's trainer running",
        )
        await wait_for(lambda: heartbeat_carries_cartpole(view), what="a heartbeat with its load")
        assert "reboots 24h: 0" in header_text(app)

        sshd.stop()
        try:
            agent.power_off()  # the host goes down while the link is already gone
            await wait_for(lambda: view.has_class("-stale"), what="stale mark")
            await pilot.pause(1.2)  # the host stays down over a second: its downtime below
            # The header ages its figures on its own timer: wait for it, not for time.
            await wait_for(lambda: "old" in header_text(app), what="the data's age said")
            header = header_text(app)
            assert "link lost" in header and "ago" in header, header
            assert "data" in header and "old" in header, header
            boot_file.write_text("boot-2\n")  # the host comes back up: a new boot id
            agent.boot()
            await wait_for(lambda: answers(agent.socket), timeout=30, what="agent back")
        finally:
            sshd.start()

        await wait_for(
            lambda: view.status.up and not view.has_class("-stale"),
            timeout=30,
            what="the app relinks by itself",
        )
        await pilot.pause()
        state = view.state
        assert state is not None
        assert [b.boot_id for b in state.boots] == ["boot-1", "boot-2"]
        assert state.host.reboots_24h == 1
        assert "reboots 24h: 1" in header_text(app)
        timeline = timeline_text(app)
        assert "1 reboots · down" in timeline, timeline
        assert "▼" in timeline, timeline  # the reboot on the axis
        before, after = state.boots
        assert (after.downtime_before_s or 0) >= 1.0  # at least the pause while it was down
        row = timeline.splitlines()[-1]  # boot at · uptime before · downtime · load then
        assert row.split()[1:3] == [
            duration(before.uptime_s),
            duration(after.downtime_before_s),
        ], timeline
        assert "1 games · 1 procs" in row, timeline
        reboot_lines = [line for line in event_lines(app) if " reboot " in line]
        assert len(reboot_lines) == 1 and "host rebooted" in reboot_lines[0], event_lines(app)
