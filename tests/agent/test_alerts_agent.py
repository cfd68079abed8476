"""Alerts sent by a real agent to real receivers on loopback (issue 21): the kinds the
agent itself records arrive with their words, a reboot with its downtime; a receiver
that hangs or is down never slows the agent; the dead man's switch pings on time and
stops with the agent; the hook reads the alert on stdin; no secret leaks; a config
others can read keeps alerts off (training goes on)."""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from controlroom.agent.alerts.message import TITLES
from tests.agent.alerts_kit import (
    PASSWORD,
    TOKEN,
    Silent,
    events_of,
    free_port,
    receiver,
    write_alerts,
)
from tests.agent.harness import SLEEPER, AgentHarness, wait_for
from tests.agent.test_supervise import HANGS

CRASHES = [sys.executable, "-c", "import sys; sys.exit(1)"]
FINISHES = [sys.executable, "-c", "print('{game}')"]


def config_check(path: Path) -> str:
    """`controlroom config check` of the agent's own copy: the settings it prints."""
    argv = [sys.executable, "-m", "controlroom", "config", "check", "--config", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def titled(hits: list, words: str) -> list:
    return [h for h in hits if words in h.title]


def test_reboot_alert_says_how_long_the_host_was_down(agent: AgentHarness) -> None:
    with receiver() as r:
        write_alerts(agent, {"urls": [r.url("json"), r.url("form")]})
        agent.start()
        agent.kill()
        agent.boot_file.write_text("boot-2\n")
        later = time.time() + 125  # the new boot began ~2 minutes after the last heartbeat
        os.utime(agent.boot_file, (later, later))
        agent.start()
        wait_for(lambda: len(titled(r.posts(), TITLES["reboot"])) >= 2, 20, "json and form")
        for hit in titled(r.posts(), TITLES["reboot"]):
            assert "(down 2m0" in hit.title or "(down 2m1" in hit.title, hit.title
            assert "host rebooted" in hit.message
        paths = {h.path.split("/")[1] for h in r.posts()}
        assert paths == {"hook"}
        wait_for(lambda: events_of(agent, "alert_sent"), 10, "alert_sent")


def test_crash_loop_hung_target_and_disk_low_arrive_with_their_words(
    agent: AgentHarness,
) -> None:
    with receiver() as r:
        write_alerts(
            agent,
            {"urls": [r.url("json")], "disk_low_gib": 10.0**6, "min_interval_s": 0.0},
            agent={"hang_timeout_s": 2.0, "stop_grace_s": 1.0},
            games={
                "Breakout": {"command": CRASHES},
                "Seaquest": {"command": [sys.executable, "-c", HANGS]},
                "Freeway": {"command": FINISHES},
            },
        )
        agent.start()
        for game in ("Breakout", "Seaquest", "Freeway"):
            agent.call("add_game", game=game)
        wanted = {
            "disk low": "disk low",
            "Breakout is crash-looping": "crash",
            "Seaquest hung": "hung",
            "Freeway reached its target": "reached its target",
        }

        def arrived() -> bool:
            text = " ".join(f"{h.title}\n{h.message}" for h in r.posts())
            return all(title in text for title in wanted)

        wait_for(arrived, 60, f"alerts {list(wanted)}")
        assert all(h.title.startswith(f"{os.uname().nodename}:") for h in r.posts())


def test_a_hung_or_dead_receiver_never_slows_the_agent(agent: AgentHarness) -> None:
    silent, dead = Silent(), free_port()
    try:
        urls = [
            f"json://127.0.0.1:{silent.port}/hook/{TOKEN}",
            f"json://127.0.0.1:{dead}/hook/{TOKEN}",
        ]
        write_alerts(
            agent,
            {"urls": urls, "disk_low_gib": 10.0**6, "retries": 2, "send_timeout_s": 1.0},
            games={"Pong": {"command": SLEEPER}},
        )
        agent.start()
        agent.call("add_game", game="Pong")
        wait_for(lambda: len(silent.accepted) >= 1, 20, "the send to hang")
        times, ticks = [], set()
        deadline = time.monotonic() + 3.0
        with agent.client() as c:  # another client, while the sends hang and retry
            while time.monotonic() < deadline:
                started = time.monotonic()
                c.call("ping")
                times.append(time.monotonic() - started)
                ticks.add(round(c.call("status")["host"]["now"], 1))
                time.sleep(0.05)
        p90 = sorted(times)[int(0.9 * len(times))]
        assert statistics.median(times) < 0.1 and p90 < 0.1, times
        pong = agent.game("Pong")  # started by the supervise pass meanwhile
        assert len(ticks) > 5 and pong["pid"] and pong["state"] in ("starting", "running")
        wait_for(lambda: len(events_of(agent, "alert_failed")) >= 2, 30, "failures")
        failed = events_of(agent, "alert_failed")
        assert {e["data"]["tries"] for e in failed} == {3}
        assert len(silent.accepted) >= 3  # tried again after each timeout
        assert agent.call("status")["alerts"]["failed"] >= 2
    finally:
        silent.close()


def test_heartbeat_pings_on_time_and_stops_when_the_agent_is_killed(
    agent: AgentHarness,
) -> None:
    with receiver() as r:
        url = f"http://127.0.0.1:{r.port}/ping/{TOKEN}"
        write_alerts(agent, {"heartbeat_url": url, "heartbeat_every_s": 0.3})
        agent.start()
        wait_for(lambda: len(r.gets()) >= 6, 10, "six pings")
        times = [h.time for h in r.gets()]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) < 1.0 and sum(gaps) / len(gaps) > 0.2, gaps
        assert all(h.path == f"/ping/{TOKEN}" for h in r.gets())
        wait_for(lambda: agent.call("status")["alerts"]["last_ping"], 5, "last_ping shown")
        agent.kill()  # SIGKILL: the host "died"
        time.sleep(0.5)  # a ping in flight may still land
        count = len(r.gets())
        time.sleep(1.5)  # five intervals of silence is what the outside service sees
        assert len(r.gets()) == count


def test_the_command_hook_reads_the_alert_as_json_on_stdin(
    agent: AgentHarness, tmp_path: Path
) -> None:
    out = tmp_path / "hook.json"
    hook = [sys.executable, "-c", f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"]
    write_alerts(agent, {"command": hook, "disk_low_gib": 10.0**6})
    agent.start()
    wait_for(out.exists, 20, "the hook to run")
    got = wait_for(lambda: out.read_text() and json.loads(out.read_text()), 5, "its JSON")
    assert got["kind"] == "disk_low" and got["title"].endswith("disk low")
    assert [e["kind"] for e in got["events"]] == ["disk_low"]
    wait_for(lambda: events_of(agent, "alert_sent"), 10, "alert_sent")


def test_no_secret_in_status_events_logs_or_json(agent: AgentHarness) -> None:
    with receiver() as r:
        dead = free_port()
        urls = [r.url("json"), f"json://alice:{PASSWORD}@127.0.0.1:{dead}/x/{TOKEN}"]
        heartbeat = f"http://127.0.0.1:{r.port}/ping/{TOKEN}"
        write_alerts(
            agent,
            {
                "urls": urls,
                "heartbeat_url": heartbeat,
                "heartbeat_every_s": 0.3,
                "disk_low_gib": 10.0**6,
                "retries": 1,
            },
        )
        agent.start()
        wait_for(lambda: events_of(agent, "alert_failed"), 20, "a failed alert")
        wait_for(lambda: events_of(agent, "alert_sent"), 20, "a sent alert")
        status = agent.call("status")
        assert status["alerts"]["urls"] == [
            f"json://127.0.0.1:{r.port}/…",
            f"json://127.0.0.1:{dead}/…",
        ]
        outputs = {
            "status": json.dumps(status),
            "status --json": agent.cli("status", "--json").stdout,
            "events --json": agent.cli("events", "--json", "--limit", "500").stdout,
            "agent.log": (agent.state_dir / "agent.log").read_text(),
            "agent.out": (agent.root / "agent.out").read_text(),
            "config check": config_check(agent.state_dir / "config.toml"),
        }
        for where, text in outputs.items():
            assert text.strip(), where
            for secret in (TOKEN, PASSWORD):
                assert secret not in text, f"{secret} in {where}"


def test_a_config_others_can_read_keeps_alerts_off_and_training_on(
    agent: AgentHarness,
) -> None:
    with receiver() as r:
        write_alerts(
            agent,
            {"urls": [r.url("json")], "disk_low_gib": 10.0**6},
            mode=0o644,
            games={"Pong": {"command": SLEEPER}},
        )
        agent.start()
        copy = agent.state_dir / "config.toml"
        agent.call("add_game", game="Pong")
        wait_for(lambda: agent.game("Pong").get("state") == "running", 30, "Pong running")
        problem = agent.call("status")["alerts"]["problem"]
        assert f"chmod 600 {copy}" in problem and "0644" in problem
        errors = [e["message"] for e in events_of(agent, "error")]
        assert any(f"chmod 600 {copy}" in m for m in errors), errors
        assert f"chmod 600 {copy}" in (agent.state_dir / "agent.log").read_text()
        wait_for(lambda: events_of(agent, "disk_low"), 10, "the disk_low event")
        time.sleep(0.5)  # past the digest window: nothing may have gone out
        assert r.posts() == [] and not events_of(agent, "alert_sent")
