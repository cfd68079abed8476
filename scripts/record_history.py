"""Record the learning histories the TUI's tests and screenshots show
(controlroom/assets/recorded_history.json, read by controlroom/tui/recorded_history.py).

Each is a real run's `history` reply, kept compact (times relative to the first row):
- learning: a CartPole run's metrics.jsonl (`controlroom local`'s CartPole beside Pong);
- flat:     a Pong run's first minutes (return about -20.5 while steps grow), diagnosed
            with flat_updates = 200 so that its few hundred updates show the marker;
- restart:  a real agent training CartPole whose trainer is SIGKILLed (a crash, then the
            agent's restart from the checkpoint) and which then goes through a reboot
            (agent and trainer killed, a new boot id, the agent started again).

    python scripts/record_history.py --learning RUN/metrics.jsonl --flat RUN/metrics.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from controlroom import protocol
from controlroom.agent.hostcli.client import AgentUnavailable, Client
from controlroom.agent.learning.diagnosis import diagnose
from controlroom.agent.learning.history import History
from controlroom.agent.learning.history_files import read_lines
from controlroom.config import DiagnosticsConfig

OUT = Path(__file__).resolve().parents[1] / "controlroom" / "assets" / "recorded_history.json"
POINTS = 240  # rows kept per recording: a downsampled curve, as a long run's reply is


def from_metrics(path: Path, game: str, limits: DiagnosticsConfig) -> dict[str, Any]:
    """A history reply from one metrics.jsonl, as the agent would build it."""
    history = History(capacity=POINTS)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "metrics.jsonl").write_bytes(path.read_bytes())
        for line in read_lines(Path(tmp)):
            history.add_line(line)
    return protocol.plain(history.result(game, "main", None, diagnose(history.rows, limits)))


def with_restart_and_reboot() -> dict[str, Any]:
    """Train CartPole under a real agent through a crash and a reboot; its reply."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        state, boot = root / "state", root / "boot_id"
        boot.write_text("boot-1\n")
        config = root / "config.toml"
        config.write_text(
            "[trainer]\nnum_envs = 4\nnum_steps = 64\nminibatch_size = 64\n"
            "checkpoint_interval_s = 5\ntorch_threads = 1\n"
            "[games.CartPole]\ntarget_episodes = 1000000\n"
            "[agent]\nbackoff_initial_s = 2.0\ntelemetry_s = 1.0\n"
        )
        env = {**os.environ, "CONTROLROOM_BOOT_ID_FILE": str(boot)}
        env.pop("CONTROLROOM_STATE_DIR", None)
        agent = _start_agent(state, config, env)
        sock = state / "agent.sock"
        _call(sock, "add_game", game="CartPole")
        time.sleep(25)
        os.kill(_call(sock, "status")["games"]["CartPole"]["pid"], signal.SIGKILL)  # a crash
        time.sleep(25)
        trainer = _call(sock, "status")["games"]["CartPole"]["pid"]
        agent.kill()  # the host goes down: agent and trainer with it
        agent.wait()
        os.kill(trainer, signal.SIGKILL)
        time.sleep(8)  # the downtime
        boot.write_text("boot-2\n")
        agent = _start_agent(state, config, env)
        time.sleep(25)
        reply = _call(sock, "history", game="CartPole")
        _call(sock, "shutdown", stop_trainers=True)
        agent.wait(60)
        return reply


def _start_agent(state: Path, config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "controlroom.agent", "run", "--config", str(config)]
    proc = subprocess.Popen([*argv, "--state-dir", str(state)], env=env)
    for _ in range(300):
        try:
            _call(state / "agent.sock", "ping")
            return proc
        except (AgentUnavailable, OSError):
            time.sleep(0.1)
    raise SystemExit("the agent did not start")


def _call(sock: Path, op: str, **args: Any) -> protocol.JSONObject:
    with Client(sock, timeout=60) as client:
        return client.call(op, **args)


def compact(reply: dict[str, Any], points: int = POINTS) -> dict[str, Any]:
    """Times relative to the first row (rows and marks), at most `points` rows."""
    history = History(capacity=points)
    for row in reply["rows"]:
        history.add_row(list(row))
    times = [float(history.rows[0][0] or 0)] + [m["time"] for m in reply["marks"][:1]]
    t0 = min(times)
    return {
        "game": reply["game"],
        "rows": [[round(float(r[0] or 0) - t0, 2), *r[1:]] for r in history.rows],
        "marks": [{**m, "time": round(m["time"] - t0, 2)} for m in reply["marks"]],
        "diagnosis": reply["diagnosis"],
    }


def main() -> None:
    """Record the three and write them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learning", type=Path, required=True, help="a CartPole metrics.jsonl")
    parser.add_argument("--flat", type=Path, required=True, help="a Pong metrics.jsonl")
    args = parser.parse_args()
    data = {
        "learning_cartpole": compact(from_metrics(args.learning, "CartPole", DiagnosticsConfig())),
        "flat_run": compact(from_metrics(args.flat, "Pong", DiagnosticsConfig(flat_updates=200))),
        "with_restart_and_reboot": compact(with_restart_and_reboot()),
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
