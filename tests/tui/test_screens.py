"""The plan (t) and log (l) screens against the real agent through sshd, with a real
CartPole trainer measuring real episodes per hour."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from textual.widgets import RichLog, Static

from controlroom.tui.app import ControlRoomApp
from controlroom.tui.screens.modals import PlanScreen, TextScreen
from controlroom.tui.widgets.host_view import HostView
from tests.link.realagent import RealAgent, wait_for
from tests.sshd import SshServer
from tests.tui.test_live import SIZE, games, make_app

ANSI_LINE = "\x1b[1;31mERROR\x1b[0m step 42: \x1b[32mloss\x1b[0m 0.25"


def plain(renderable: object, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def eph(app: ControlRoomApp, game: str) -> float | None:
    return (games(app).get(game, {}).get("metrics") or {}).get("episodes_per_hour")


async def test_plan_then_log_of_a_training_cartpole(sshd: SshServer, agent: RealAgent) -> None:
    app = make_app(sshd, agent)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(HostView)
        await wait_for(lambda: view.status.up, what="link up")
        await view.request("add_game", game="CartPole")
        try:
            await wait_for(
                lambda: bool(eph(app, "CartPole")),
                timeout=120,
                what="CartPole's measured episodes/hour",
            )
            await pilot.pause()
            app.query_one("#game-CartPole").focus()
            await pilot.press("t")
            await wait_for(
                lambda: isinstance(app.screen, PlanScreen) and app.screen.is_mounted,
                what="plan screen",
            )
            assert app.screen.query_one("#plan", Static).region.height > 10
            text = plain(app.screen.body)  # type: ignore[attr-defined]
            row = next(ln for ln in text.splitlines() if ln.lstrip("│ ").startswith("CartPole"))
            assert "2,000" in row and "-" not in row.split()[-1], row  # a time to target
            assert "every game in parallel" in text and "with the queue" in text
            assert "cpu" in text and "effective" in text and "$" in text
            await pilot.press("escape")
            await _log_shows_colours_not_escapes(app, pilot, agent)
        finally:
            await view.request("remove_game", game="CartPole")


async def _log_shows_colours_not_escapes(
    app: ControlRoomApp, pilot: object, agent: RealAgent
) -> None:
    log_file = Path(agent.state_dir) / "runs" / "CartPole" / "trainer.log"
    with log_file.open("a") as f:  # as a trainer with coloured output writes it
        f.write(ANSI_LINE + "\n")
    await pilot.press("l")  # type: ignore[attr-defined]
    await wait_for(
        lambda: isinstance(app.screen, TextScreen) and app.screen.is_mounted, what="log screen"
    )
    await pilot.pause()  # type: ignore[attr-defined]
    log = app.screen.query_one("#text", RichLog)
    shown = ["".join(seg.text for seg in strip) for strip in log.lines]
    assert not any("\x1b" in line or "[0m" in line for line in shown), shown[-3:]
    assert any("ERROR step 42: loss 0.25" in line for line in shown), shown[-3:]
    styles = [seg.style for strip in log.lines for seg in strip if seg.text == "ERROR"]
    assert styles and styles[-1] is not None and styles[-1].color is not None
    await pilot.press("escape")  # type: ignore[attr-defined]
