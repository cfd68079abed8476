"""HostView: one host's whole picture, fed by its own link worker.

Each HostView runs its host's link in a worker of its own, so one host that is down or
slow never stalls another.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive

from controlroom import __version__, protocol
from controlroom.link.errors import NO_AGENT, LinkError
from controlroom.link.reconnect import Connected, Disconnected, HostLink, LinkEvent, RoundTrip
from controlroom.tui.format import about, duration
from controlroom.tui.messages import (
    AgentEvent,
    AgentMissing,
    HostSummary,
    LinkDown,
    LinkUp,
    RttMeasured,
    StateUpdated,
)
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.event_log import EventLog
from controlroom.tui.widgets.game_pane import GameGrid
from controlroom.tui.widgets.gauges import Gauges
from controlroom.tui.widgets.header import HostHeader, LinkStatus
from controlroom.tui.widgets.no_agent import NoAgentNotice
from controlroom.tui.widgets.policy import PolicyPanel
from controlroom.tui.widgets.timeline import RebootTimeline

NOTIFY_KINDS = {
    "crash": "error",
    "crash_loop": "error",
    "hung": "error",
    "reboot": "warning",
    "guard_refused": "warning",
    "target_reached": "information",
}


class HostView(Vertical):
    """Header, gauges, reboot timeline, policy, game panes and events of one host."""

    stale: reactive[bool] = reactive(True)
    """True while the link is down: the data shown is as old as the header says."""

    no_agent: reactive[bool] = reactive(False)
    """True while the host answers SSH but has no agent: the view offers the install."""

    def __init__(
        self,
        target: HostTarget,
        *,
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
        live: bool = True,
        install_key: str = "i",
        id: str | None = None,
    ) -> None:
        """Args: target: the host; readonly: say so in the header; clock: wall time
        (frozen in snapshot tests); live: run the link (False: fed by `load_state`);
        install_key: the key that installs an agent, as the footer shows it."""
        super().__init__(id=id, classes="host-view")
        self.target, self.readonly, self.clock, self.live = target, readonly, clock, live
        self.install_key = install_key
        self.state: protocol.State | None = None
        self.status = LinkStatus()
        self.skew = 0.0
        self.link = HostLink(target.name, target.open, self._post_link_event, clock=clock)
        self._ensured = False
        self._offered_install = False
        self._summary: HostSummary | None = None

    def compose(self) -> ComposeResult:
        yield HostHeader(self.target.name, readonly=self.readonly, id="header")
        yield NoAgentNotice(id="no-agent")
        with Horizontal(id="top"):
            yield Gauges(id="gauges")
            yield RebootTimeline(id="timeline")
        yield PolicyPanel(id="policy")
        # Not focusable: the arrow keys move the selection between panes, not this scroll.
        with VerticalScroll(id="games-scroll", can_focus=False):
            yield GameGrid(id="games")
        yield EventLog(id="events")

    def on_mount(self) -> None:
        self.query_one("#events", EventLog).border_title = "Events"
        self.query_one("#gauges", Gauges).show_titles(title="Load")
        self.query_one("#timeline", RebootTimeline).show_titles(title="Reboots")
        self.set_interval(1.0, self.tick_header)
        if self.live:
            name = self.target.name
            self.run_worker(
                self.link.run(),
                name=f"link {name}",
                group=f"link-{name}",
                exclusive=True,
                exit_on_error=False,
                description=f"link to {name}",
            )
        self.tick_header()

    def watch_stale(self, stale: bool) -> None:
        self.set_class(stale, "-stale")
        self.app.refresh_bindings()  # the retry key shows only while the link is down

    @property
    def link_down(self) -> bool:
        """The link was tried and is down (the retry key can cut the wait short)."""
        return self.live and not self.status.up and self.status.down_since is not None

    def retry_now(self) -> None:
        """Try the link again now instead of after the backoff."""
        self.link.retry_now()

    def watch_no_agent(self, no_agent: bool) -> None:
        self.set_class(no_agent, "-no-agent")
        self.app.refresh_bindings()  # the footer offers the install key only meanwhile

    @property
    def agent_outdated(self) -> bool:
        """The linked agent runs another controlroom version than this laptop."""
        version = None if self.state is None else self.state.host.agent_version
        return self.status.up and bool(version) and version != __version__

    @property
    def can_install(self) -> bool:
        """An install (or an upgrade) can be started from here: no agent, or one of another
        version, an installer, not read-only."""
        wanted = self.no_agent or self.agent_outdated
        return wanted and self.target.install is not None and not self.readonly

    def agent_now(self) -> float:
        """The agent's clock, estimated from ours and the last State's `host.now`."""
        return self.clock() + self.skew

    def selected_game(self) -> str | None:
        return self.query_one("#games", GameGrid).selected()

    def toggle_compare(self, game: str) -> bool:
        """Mark `game` for comparison (or unmark it); True when it is now marked."""
        return self.query_one("#games", GameGrid).toggle_mark(game)

    def compared_games(self) -> list[str]:
        """The games marked for comparison, in the order marked."""
        return list(self.query_one("#games", GameGrid).marked)

    def move_selection(self, dx: int, dy: int) -> None:
        """Select the game pane `dx` columns and `dy` rows away."""
        self.query_one("#games", GameGrid).move(dx, dy)

    async def request(self, op: str, **args: Any) -> Any:
        """Send an op to this host's agent (LinkError when the link is down)."""
        return await self.link.request(op, **args)

    def load_state(self, state: protocol.State | dict[str, Any], where: str = "recorded") -> None:
        """Show a State (or one in plain JSON, validated here) as if a session had just
        delivered it (tests, screenshots)."""
        self.status = LinkStatus(up=True, where=where, rtt=0.0004)
        self.stale = False
        self._show(state if isinstance(state, protocol.State) else protocol.as_state(state))

    def _post_link_event(self, ev: LinkEvent) -> None:
        name = self.target.name
        if isinstance(ev, Connected):
            self.post_message(LinkUp(name, ev.hello, ev.state, ev.where))
        elif isinstance(ev, Disconnected):
            self.post_message(LinkDown(name, ev.since, ev.reason, ev.kind, ev.attempt, ev.retry_in))
        elif isinstance(ev, RoundTrip):
            self.post_message(RttMeasured(name, ev.rtt))
        else:
            if ev.event is not None:
                self.post_message(AgentEvent(name, ev.event))
            self.post_message(StateUpdated(name, ev.state))

    @on(LinkUp)
    def show_fresh_snapshot(self, message: LinkUp) -> None:
        message.stop()
        self.status = LinkStatus(up=True, where=message.where, rtt=self.status.rtt)
        self.stale = self.no_agent = False
        self._show(message.state)
        if self.target.ensure_games and not self._ensured:
            self._ensured = True
            for game in self.target.ensure_games:
                self.ensure_game(game)

    @on(StateUpdated)
    def show_update(self, message: StateUpdated) -> None:
        message.stop()
        self._show(message.state)

    @on(LinkDown)
    def mark_stale(self, message: LinkDown) -> None:
        message.stop()
        self.status = LinkStatus(
            up=False,
            down_since=message.since,
            reason=message.reason,
            retry_in=message.retry_in,
            attempt=message.attempt,
            kind=message.kind,
        )
        self.no_agent = message.kind == NO_AGENT
        if self.no_agent:
            self.query_one(NoAgentNotice).show(
                self.target.name,
                message.reason,
                readonly=self.readonly,
                install_key=None if self.target.install is None else self.install_key,
            )
            if self.target.install is not None and not self._offered_install:
                self._offered_install = True
                self.post_message(AgentMissing(self.target.name, message.reason))
        self.stale = True
        self.app.refresh_bindings()  # the retry key (stale may have been set already)
        self.tick_header()
        self._post_summary()

    @on(RttMeasured)
    def show_rtt(self, message: RttMeasured) -> None:
        message.stop()
        self.status.rtt = message.rtt
        self.tick_header()

    @on(AgentEvent)
    def notify_event(self, message: AgentEvent) -> None:
        message.stop()
        kind = str(message.event.kind)
        if kind in NOTIFY_KINDS:
            event = message.event
            text = about(self.target.name, about(event.game, event.message))
            self.notify(text, severity=NOTIFY_KINDS[kind], timeout=8)  # type: ignore[arg-type]

    @work(group="ensure", exit_on_error=False, description="ensure the local game is wanted")
    async def ensure_game(self, game: str) -> None:
        known = None if self.state is None else self.state.games.get(game)
        if known is not None and known.wanted:
            return
        try:
            await self.request("add_game", game=game)
        except LinkError as exc:
            self.notify(f"could not start {game}: {exc.message}", severity="error")

    def tick_header(self) -> None:
        self.query_one("#header", HostHeader).show(self.status, self.state, self.agent_now())

    def _show(self, state: protocol.State) -> None:
        outdated = self.agent_outdated
        self.state = state
        if self.agent_outdated != outdated:
            self.app.refresh_bindings()  # the install key offers the upgrade meanwhile
        if state.host.now:
            self.skew = state.host.now - self.clock()
        now = self.agent_now()
        self.tick_header()
        self.query_one("#gauges", Gauges).show(state)
        self.query_one("#timeline", RebootTimeline).show(state.boots, now)
        self.query_one("#policy", PolicyPanel).show(state.policy, now, state.alerts)
        self.query_one("#games", GameGrid).show(state.games, now)
        self.query_one("#events", EventLog).sync(state.events)
        self._post_summary()

    def _post_summary(self) -> None:
        """The fleet row, posted only when it reads differently (most samples do not)."""
        summary = summarize(self.target.name, self.status, self.state, self.agent_now())
        if summary != self._summary:
            self._summary = summary
            self.post_message(summary)


def summarize(
    name: str, status: LinkStatus, state: protocol.State | None, now: float
) -> HostSummary:
    """The fleet overview's row for one host."""
    if status.up:
        rtt = "" if status.rtt is None else f" {status.rtt * 1000:.0f} ms"
        link = f"● up{rtt}"
    elif status.down_since is None:
        link = "◌ connecting"
    else:
        link = f"○ down {duration(now - status.down_since)}: {status.reason}"
    if state is None:
        return HostSummary(name, link, "-", "-", "-")
    if state.gpus:
        g = state.gpus[0]
        mem = 100 * g.memory_used / (g.memory_total or 1)
        gpu = f"{g.utilization:.0f}% · mem {mem:.0f}%"
    else:
        gpu = "no GPU"
    games = state.games
    running = sum(1 for g in games.values() if g.state == "running")
    return HostSummary(
        name, link, gpu, f"{running}/{len(games)} running", str(state.host.reboots_24h)
    )
