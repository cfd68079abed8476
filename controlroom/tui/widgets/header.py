"""The header bar: host, link and RTT, agent version, uptime, reboots in 24 h."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from controlroom import __version__, protocol
from controlroom.link.errors import NO_AGENT
from controlroom.tui.format import duration, without_name
from controlroom.tui.widgets.quiet import QuietStatic


@dataclass
class LinkStatus:
    """What the header knows about the link."""

    up: bool = False
    where: str = ""
    rtt: float | None = None
    down_since: float | None = None
    reason: str = ""
    retry_in: float | None = None
    attempt: int = 0
    kind: str = ""
    """why it is down, a LinkError kind (NO_AGENT: the host answers but runs no agent)"""


HEADER_W = 120
"""The width the header is laid out for before it knows its own (the snapshot size)."""


class HostHeader(QuietStatic):
    """One line saying where we are and how fresh the data is."""

    def __init__(self, host: str, *, readonly: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.host, self.readonly = host, readonly

    def show(self, link: LinkStatus, state: protocol.State | None, agent_now: float) -> None:
        """Render from the link status and the latest State, ages as of `agent_now`."""
        width = self.content_size.width or HEADER_W
        self.show_text(
            render_header(self.host, link, state, agent_now, readonly=self.readonly, width=width)
        )


def render_header(
    host: str,
    link: LinkStatus,
    state: protocol.State | None,
    now: float,
    *,
    readonly: bool,
    width: int = HEADER_W,
) -> Text:
    """The line, at most `width` cells: a link-down reason is cut to what room is left,
    so the data's age, the versions and READ-ONLY always show."""
    text = _render(host, link, state, now, readonly=readonly, reason="")
    if link.up or link.down_since is None or link.kind == NO_AGENT:
        text.truncate(width, overflow="ellipsis")
        return text
    reason = without_name(link.reason, host)
    room = width - text.cell_len - 2
    if room < 8:
        text.truncate(width, overflow="ellipsis")
        return text
    short = reason if len(reason) <= room else reason[: room - 1] + "…"
    return _render(host, link, state, now, readonly=readonly, reason=short)


def _render(
    host: str,
    link: LinkStatus,
    state: protocol.State | None,
    now: float,
    *,
    readonly: bool,
    reason: str,
) -> Text:
    text = Text.assemble((f" {host} ", "bold reverse"), " ")
    text.append_text(_link_part(host, link, now, reason))
    if state is not None:
        text.append_text(_host_part(state.host, link, now))
    if readonly:
        text.append("  READ-ONLY", style="bold yellow")
    return text


def _link_part(host: str, link: LinkStatus, now: float, reason: str) -> Text:
    if link.up:
        rtt = "…" if link.rtt is None else f"{link.rtt * 1000:.1f} ms"
        return Text.assemble(("● ", "green"), f"linked ({link.where}) rtt {rtt}")
    if link.down_since is None:
        return Text.assemble(("◌ ", "yellow"), "connecting…")
    if link.kind == NO_AGENT:  # the view below says why and how to install
        again = "" if link.retry_in is None else f"· looking again in {link.retry_in:.0f}s"
        return Text.assemble(("○ ", "red"), (f"no agent on {host} ", "bold red"), again)
    age = duration(now - link.down_since)
    retry = "" if link.retry_in is None else f" · retry #{link.attempt} in {link.retry_in:.0f}s"
    why = f": {reason}" if reason else ""
    return Text.assemble(("○ ", "red"), (f"link lost {age} ago{why}{retry}", "red"))


def _versions(agent: str | None) -> Text:
    """The agent's version; the laptop's beside it when they differ (the install key
    then offers the upgrade)."""
    if agent is None or agent == __version__:
        return Text(f"agent {agent or '?'}")
    return Text(f"agent {agent} ≠ laptop {__version__}: upgrade offered", style="bold yellow")


def _host_part(h: protocol.Host, link: LinkStatus, now: float) -> Text:
    uptime = h.uptime_s
    if link.up:
        uptime += max(0.0, now - h.now)
    reboots = f"reboots 24h: {h.reboots_24h}"
    if link.up:
        text = Text("  │  ")
        text.append_text(_versions(h.agent_version or None))
        return text.append("  │  " + "  │  ".join([f"up {duration(uptime)}", reboots]))
    # Down: the data's age instead of an uptime and a version as old as it, so the line
    # keeps room for the reason within 120 columns.
    text = Text(" │ ")
    text.append(f"data {duration(now - h.now)} old", style="bold yellow")
    text.append(" │ ")
    return text.append(reboots)
