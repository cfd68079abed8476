"""The alerts service in-process against a real receiver on loopback: the words of each
default kind (those the agent tests cannot cheaply provoke included), a flood gathered
into one digest, the per-game-and-kind interval, and the pure parts (redaction,
throttle, config checks)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from controlroom import config, protocol
from controlroom.agent.alerts import Alerts
from controlroom.agent.alerts.throttle import Throttle
from controlroom.config import AlertsConfig, ConfigError, loads
from controlroom.redact import redact, scrub
from tests.agent.alerts_kit import FAST_ALERTS, PASSWORD, TOKEN, receiver
from tests.agent.harness import wait_for

# What the agent records for each default kind, and the words its alert must carry.
DEFAULT_KINDS = {
    "reboot": (None, {"downtime_s": 3725.0}, "gpu-1: back after a reboot (down 1h02m)"),
    "crash_loop": ("Pong", {}, "gpu-1: Pong is crash-looping"),
    "hung": ("Pong", {}, "gpu-1: Pong hung"),
    "target_reached": ("Pong", {}, "gpu-1: Pong reached its target"),
    "guard_paused": ("Pong", {}, "gpu-1: Pong paused by the guard"),
    "looks_wrong": ("Pong", {}, "gpu-1: Pong looks wrong"),
    "tune_finished": ("Pong", {}, "gpu-1: Pong: tune finished"),
    "disk_low": (None, {}, "gpu-1: disk low"),
}


def event(
    kind: str, game: str | None = "Pong", data: protocol.JSONObject | None = None
) -> protocol.Event:
    return protocol.Event(
        ts=time.time(), kind=kind, game=game, message=f"the {kind} text", data=data or {}
    )


def private(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("")
    path.chmod(0o600)
    return path


async def run_alerts(cfg: AlertsConfig, path: Path, events: list[protocol.Event], until) -> list:
    recorded: list = []
    alerts = Alerts(cfg, path, "gpu-1", lambda *e: recorded.append(e), lambda: None)
    alerts.start()
    try:
        for e in events:
            alerts.observe(e)
        deadline = time.monotonic() + 20
        while not until() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return recorded
    finally:
        await alerts.close()


def test_default_kinds_are_the_issues() -> None:
    assert set(AlertsConfig().kinds) == set(DEFAULT_KINDS)


@pytest.mark.parametrize("scheme", ["json", "form"])
async def test_each_default_kind_arrives_with_its_words(tmp_path: Path, scheme: str) -> None:
    with receiver() as r:
        cfg = AlertsConfig(urls=[r.url(scheme)], digest_window_s=0.0, send_timeout_s=2.0)
        for kind, (game, data, title) in DEFAULT_KINDS.items():
            before = len(r.posts())
            await run_alerts(
                cfg,
                private(tmp_path),
                [event(kind, game, data)],
                lambda b=before: len(r.posts()) > b,
            )
            hit = r.posts()[-1]
            assert hit.title == title and hit.message == f"the {kind} text", (kind, hit)


async def test_a_flood_of_100_crashes_is_one_digest(tmp_path: Path) -> None:
    with receiver() as r:
        cfg = AlertsConfig(
            urls=[r.url("json")], kinds=["crash"], **FAST_ALERTS, min_interval_s=60.0
        )
        flood = [event("crash", f"Game{i % 10}") for i in range(100)]
        recorded = await run_alerts(cfg, private(tmp_path), flood, lambda: len(r.posts()) >= 1)
        await asyncio.sleep(0.5)  # nothing more follows within the interval
        assert len(r.posts()) == 1
        hit = r.posts()[0]
        assert hit.title == "gpu-1: 100 alerts", hit.title
        assert "Game0 crash x10 since" in hit.message and "Game9 crash x10" in hit.message
        assert [k for k, *_ in recorded] == ["alert_sent"]


async def test_one_game_and_kind_waits_its_interval_then_sends_the_count(tmp_path: Path) -> None:
    with receiver() as r:
        cfg = AlertsConfig(urls=[r.url("json")], kinds=["crash"], **FAST_ALERTS, min_interval_s=1.0)
        recorded: list = []
        alerts = Alerts(
            cfg, private(tmp_path), "gpu-1", lambda *e: recorded.append(e), lambda: None
        )
        alerts.start()
        try:
            alerts.observe(event("crash"))
            await asyncio.to_thread(wait_for, lambda: len(r.posts()) == 1, 10, "the first")
            for _ in range(30):
                alerts.observe(event("crash"))
            await asyncio.to_thread(wait_for, lambda: len(r.posts()) == 2, 10, "the count")
        finally:
            await alerts.close()
        first, count = r.posts()
        assert first.title == "gpu-1: Pong crashed"
        assert "Pong crash x30 since" in count.message
        assert count.time - first.time >= 0.9


def test_throttle_counts_between_intervals() -> None:
    t = Throttle(lambda: 10.0)
    assert t.admit(event("crash"), 100.0) and not t.admit(event("crash"), 101.0)
    assert t.admit(event("crash", "Other"), 101.0)
    assert t.due(105.0) == [] and t.next_due(105.0) == pytest.approx(5.0)
    (held,) = t.due(110.0)
    assert (held.game, held.kind, held.count) == ("Pong", "crash", 1)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"json://alice:{PASSWORD}@127.0.0.1:8080/hook/{TOKEN}?a={TOKEN}",
            "json://127.0.0.1:8080/…",
        ),
        (f"ntfy://{TOKEN}", "ntfy://…"),
        (f"tgram://123456789:{TOKEN}/-100123", "tgram://…"),
        (f"ntfys://ntfy.sh/{TOKEN}", "ntfys://ntfy.sh/…"),
        (f"mailto://alice:{PASSWORD}@gmail.com", "mailto://gmail.com/…"),
        ("not a url", "…"),
    ],
)
def test_redact_keeps_scheme_and_real_host_only(url: str, shown: str) -> None:
    assert redact(url) == shown
    said = scrub(f"failed to reach {url}: 401 for {TOKEN} as alice:{PASSWORD}", [url])
    for secret in (TOKEN, PASSWORD):
        assert secret not in said or secret not in url, said


def test_alert_kinds_are_event_kinds_and_never_alert_about_alerts() -> None:
    known = set(protocol.EVENT_KINDS) | {config.TUNE_FINISHED_KIND}
    assert set(config.ALERT_KINDS) <= known
    assert {"alert_sent", "alert_failed"}.isdisjoint(config.ALERT_KINDS)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('kinds = ["crash_lop"]', "unknown event kind 'crash_lop' (did you mean 'crash_loop'"),
        ('kinds = ["alert_failed"]', "unknown event kind 'alert_failed'"),
        ('kinds = ["hung", "hung"]', "names hung more than once"),
        (f'urls = ["no-scheme-{TOKEN}"]', "entry 1 must be a URL of the form scheme://"),
        (f'heartbeat_url = "ftp://x/{TOKEN}"', "must be an http:// or https:// URL"),
        ('command = [""]', "the program (first argument) must not be empty"),
    ],
)
def test_alerts_section_is_checked_with_clear_errors(line: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        loads(f"[alerts]\n{line}\n", "c.toml")
    assert words in str(err.value) and "c.toml:2: alerts." in str(err.value)
    assert TOKEN not in str(err.value)
