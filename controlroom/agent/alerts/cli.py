"""`controlroom agent alerts test`: send a test alert from this host to every URL and
the hook, ping the heartbeat URL once, and print what each answered (URLs redacted).

It reads the agent's own config (the file its alerts come from) and sends from this
process, so it works whether or not the agent runs; a failure is not retried (an
answer now is the point).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import socket
import sys
from pathlib import Path
from typing import Any

from controlroom.agent.alerts.dispatch import Alerts
from controlroom.agent.alerts.message import test_alert
from controlroom.agent.alerts.send import Outcome, ping
from controlroom.agent.alerts.settings import mode_problem
from controlroom.config import AlertsConfig, load

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any, state_dir_help: str) -> None:
    """`alerts test` under `controlroom agent`."""
    alerts = sub.add_parser(
        "alerts", help="alerts sent from this host (docs/alerts.md)", description=__doc__
    )
    actions = alerts.add_subparsers(dest="alerts_action", required=True, metavar="ACTION")
    test = actions.add_parser("test", help="send a test alert and print what each URL answered")
    test.add_argument("--state-dir", help=state_dir_help)
    test.add_argument("--config", help="the config to read when the agent has no copy yet")
    test.add_argument("--json", action="store_true", help="one JSON object per URL")


def run(args: argparse.Namespace, path: Path | None) -> int:
    """Send the test; 0 when every URL, the hook and the heartbeat answered ok."""
    cfg = load(path).alerts if path is not None else AlertsConfig()
    where = str(path) if path is not None else "the built-in defaults"
    if path is not None and (refused := mode_problem(path, cfg)) is not None:
        print(f"controlroom agent alerts: {refused}", file=sys.stderr)
        return EXIT_USAGE
    if not cfg.active:
        print(
            f"controlroom agent alerts: nothing to test: {where} sets no [alerts] urls, "
            "heartbeat_url or command (docs/alerts.md)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    outcomes = asyncio.run(_send(dataclasses.replace(cfg, retries=0), path))
    for o in outcomes:
        if args.json:
            print(json.dumps({"to": o.url, "ok": o.ok, "detail": o.detail}))
        else:
            print(f"{o.url}: {'ok' if o.ok else 'error'}" + (f" ({o.detail})" if o.detail else ""))
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAIL


async def _send(cfg: AlertsConfig, path: Path | None) -> list[Outcome]:
    host = socket.gethostname()
    alerts = Alerts(cfg, path or Path("/dev/null"), host, lambda *_: None, lambda: None)
    try:
        outcomes = await alerts.deliver(test_alert(host)) if alerts.sending else []
        if cfg.heartbeat_url:
            beat = await alerts.in_thread(cfg.heartbeat_url, ping, cfg.heartbeat_url)
            outcomes.append(dataclasses.replace(beat, url=f"heartbeat {beat.url}"))
        return outcomes
    finally:
        await alerts.close()
