"""The alerts part of the policy panel: nothing when a host has no alerts (the panel
reads as before), the redacted URLs, last sent and failed and the heartbeat when it has,
and why they are off when the agent refused them."""

from __future__ import annotations

import msgspec

from controlroom import protocol
from controlroom.tui.recorded import NOW, recorded_state
from controlroom.tui.widgets.host_view import HostView
from controlroom.tui.widgets.policy import PolicyPanel, render_policy
from tests.tui.test_snapshots import SIZE, app_for

SET_UP = protocol.AlertsState(
    enabled=True,
    urls=["ntfys://ntfy.sh/…", "json://10.0.0.9:8080/…"],
    kinds=["reboot"],
    heartbeat_url="https://hc-ping.com/…",
    heartbeat_every_s=60.0,
    last_ping=NOW - 12,
    sent=3,
    failed=1,
    last_sent=protocol.AlertOutcome(time=NOW - 120, title="gpu-1: Pong hung"),
    last_failed=protocol.AlertOutcome(
        time=NOW - 60, title="gpu-1: Pong hung", detail="json://10.0.0.9:8080/…: HTTP 500"
    ),
)


def text(alerts: protocol.AlertsState | None) -> str:
    policy = msgspec.convert(recorded_state()["policy"], protocol.PolicyState)
    return render_policy(policy, NOW, alerts)[0].plain


def test_no_alerts_leaves_the_panel_as_it_was() -> None:
    assert text(protocol.AlertsState()) == text(None)


def test_alerts_show_redacted_urls_and_the_last_outcomes() -> None:
    last = text(SET_UP).split("\n")[-1]
    assert "alerts 2 URLs (ntfys://ntfy.sh/…, json://10.0.0.9:8080/…)" in last
    assert "sent 3, last 2m" in last and "failed 1, last 1m" in last and "HTTP 500" in last
    assert "heartbeat 12s ago" in last


def test_refused_alerts_say_why() -> None:
    off = protocol.AlertsState(urls=["ntfys://ntfy.sh/…"], problem="chmod 600 /x/config.toml")
    assert "alerts off: chmod 600 /x/config.toml" in text(off)


async def test_the_panel_shows_the_state_s_alerts() -> None:
    state = recorded_state()
    state["alerts"] = msgspec.to_builtins(SET_UP)
    app = app_for("tnr-0")
    async with app.run_test(size=(200, SIZE[1])) as pilot:
        app.query_one(HostView).load_state(state)
        await pilot.pause()
        assert "alerts 2 URLs" in str(app.query_one(PolicyPanel).render())
