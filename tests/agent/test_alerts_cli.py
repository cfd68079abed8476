"""`controlroom agent alerts test`: a real test message to real receivers on loopback,
one line per URL (redacted) saying ok or error; --json alike; no secret printed."""

from __future__ import annotations

import json

from tests.agent.alerts_kit import PASSWORD, TOKEN, free_port, receiver, write_alerts
from tests.agent.harness import AgentHarness


def test_alerts_test_prints_what_each_url_answered(agent: AgentHarness) -> None:
    with receiver() as r:
        dead = free_port()
        urls = [r.url("json"), r.url("form"), f"json://alice:{PASSWORD}@127.0.0.1:{dead}/{TOKEN}"]
        beat = f"http://127.0.0.1:{r.port}/ping/{TOKEN}"
        write_alerts(agent, {"urls": urls, "heartbeat_url": beat})
        done = agent.cli("alerts", "test", "--config", str(agent.config_path))
        assert done.returncode == 1, done.stderr  # one URL is down
        lines = done.stdout.splitlines()
        assert lines[:2] == [f"json://127.0.0.1:{r.port}/…: ok", f"form://127.0.0.1:{r.port}/…: ok"]
        assert lines[2].startswith(f"json://127.0.0.1:{dead}/…: error (")
        assert lines[3] == f"heartbeat http://127.0.0.1:{r.port}/…: ok (HTTP 200)"
        assert all(h.title.endswith(": test alert") for h in r.posts())
        assert len(r.posts()) == 2 and len(r.gets()) == 1
        as_json = agent.cli("alerts", "test", "--json", "--config", str(agent.config_path))
        rows = [json.loads(line) for line in as_json.stdout.splitlines()]
        assert [row["ok"] for row in rows] == [True, True, False, True]
        for text in (done.stdout + done.stderr, as_json.stdout + as_json.stderr):
            assert TOKEN not in text and PASSWORD not in text


def test_alerts_test_refuses_a_readable_config_and_an_empty_one(agent: AgentHarness) -> None:
    write_alerts(agent, {"urls": [f"json://127.0.0.1:9/{TOKEN}"]}, mode=0o644)
    done = agent.cli("alerts", "test", "--config", str(agent.config_path))
    assert done.returncode == 2 and f"chmod 600 {agent.config_path}" in done.stderr
    assert TOKEN not in done.stderr and done.stdout == ""
    write_alerts(agent, {})
    done = agent.cli("alerts", "test", "--config", str(agent.config_path))
    assert done.returncode == 2 and "nothing to test" in done.stderr
