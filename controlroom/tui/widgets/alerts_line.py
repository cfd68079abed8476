"""The alerts part of the policy panel: where the host's agent sends alerts (URLs
redacted by the agent), the last sent and failed, and its dead man's switch. Nothing
when the host has no alerts set up, so the panel reads as it did."""

from __future__ import annotations

from rich.text import Text

from controlroom import protocol
from controlroom.tui.format import duration


def alerts_part(a: protocol.AlertsState, now: float) -> Text | None:
    """'alerts 2 URLs (ntfys://ntfy.sh/…, …) · sent 3, 2m ago · failed 1: json://…: HTTP 500
    · ping 12s ago'; 'alerts off: WHY' when they were refused; None when none are set."""
    configured = a.urls or a.heartbeat_url or a.command
    if not configured and a.problem is None:
        return None
    text = Text.assemble(("alerts ", "bold"))
    if not a.enabled and a.problem is not None:
        return text.append(f"off: {a.problem}", style="bold red")
    where = [*a.urls, *([f"command {a.command}"] if a.command else [])]
    if where:
        text.append(f"{_n(len(a.urls), 'URL')} ({', '.join(where)})")
    if a.problem is not None:
        text.append(f" · {a.problem}", style="bold yellow")
    text.append(_outcomes(a, now))
    if a.heartbeat_url:
        text.append_text(_ping(a, now))
    return text


def _outcomes(a: protocol.AlertsState, now: float) -> Text:
    text = Text()
    if a.last_sent is not None:
        text.append(f" · sent {a.sent}, last {duration(now - a.last_sent.time)} ago")
    if a.last_failed is not None:
        failed = f" · failed {a.failed}, last {duration(now - a.last_failed.time)} ago: "
        text.append(failed + a.last_failed.detail, style="bold red")
    if a.dropped:
        text.append(f" · {a.dropped} dropped", style="yellow")
    return text


def _ping(a: protocol.AlertsState, now: float) -> Text:
    if a.ping_error is not None:
        return Text(f" · heartbeat failing: {a.ping_error}", style="bold red")
    if a.last_ping is None:
        return Text(" · heartbeat not sent yet", style="dim")
    return Text(f" · heartbeat {duration(now - a.last_ping)} ago")


def _n(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"
