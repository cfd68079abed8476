"""The header bar: host, link and RTT, agent version, uptime, reboots in 24 h."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from controlroom.link.errors import NO_AGENT
from controlroom.tui.format import duration
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


class HostHeader(QuietStatic):
    """One line saying where we are and how fresh the data is."""

    def __init__(self, host: str, *, readonly: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.host, self.readonly = host, readonly

    def show(self, link: LinkStatus, state: dict[str, Any] | None, agent_now: float) -> None:
        """Render from the link status and the latest State, ages as of `agent_now`."""
        self.show_text(render_header(self.host, link, state, agent_now, readonly=self.readonly))


def render_header(host: str, link: LinkStatus, state: dict[str, Any] | None,
                  now: float, *, readonly: bool) -> Text:  # fmt: skip
    text = Text.assemble((f" {host} ", "bold reverse"), " ")
    text.append_text(_link_part(host, link, now))
    if state:
        text.append_text(_host_part(state.get("host") or {}, link, now))
    if readonly:
        text.append("  READ-ONLY", style="bold yellow")
    return text


def _link_part(host: str, link: LinkStatus, now: float) -> Text:
    if link.up:
        rtt = "…" if link.rtt is None else f"{link.rtt * 1000:.1f} ms"
        return Text.assemble(("● ", "green"), f"linked ({link.where}) rtt {rtt}")
    if link.down_since is None:
        return Text.assemble(("◌ ", "yellow"), "connecting…")
    age = duration(now - link.down_since)
    retry = "" if link.retry_in is None else f", retry #{link.attempt} in {link.retry_in:.0f}s"
    if link.kind == NO_AGENT:  # the view below says why and how to install
        again = "" if link.retry_in is None else f"· looking again in {link.retry_in:.0f}s"
        return Text.assemble(("○ ", "red"), (f"no agent on {host} ", "bold red"), again)
    return Text.assemble(("○ ", "red"), (f"link lost {age} ago{retry}: {link.reason}", "red"))


def _host_part(h: dict[str, Any], link: LinkStatus, now: float) -> Text:
    uptime = h.get("uptime_s")
    if uptime is not None and link.up and h.get("now") is not None:
        uptime += max(0.0, now - float(h["now"]))
    parts = [f"agent {h.get('agent_version', '?')}", f"up {duration(uptime)}",
             f"reboots 24h: {h.get('reboots_24h', '?')}"]  # fmt: skip
    text = Text("  │  " + "  │  ".join(parts))
    if not link.up and h.get("now") is not None:
        text.append(f"  │  data {duration(now - float(h['now']))} old", style="bold yellow")
    return text
