"""A recorded State in protocol shape, taken from the user's log: the screenshot and
snapshot tests show it when no agent is at hand. Time is a parameter, so it is stable."""

from __future__ import annotations

import math
from typing import Any

GIB = 1024**3
NOW = 1_767_120_900.0  # 2025-12-30 18:55 UTC, after the log's third reboot


def _wave(n: int, base: float, amp: float, phase: float = 0.0) -> list[float]:
    return [round(base + amp * math.sin(i / 3 + phase), 2) for i in range(n)]


def _game(  # noqa: PLR0917
    name: str,
    state: str,
    envs: int,
    mb: int,
    episodes: int,
    eph: float,
    sps: float,
    ret: float,
    now: float,
    **extra: Any,
) -> dict[str, Any]:
    game = {
        "game": name,
        "env_id": f"{name}-v5",
        "wanted": True,
        "state": state,
        "settings": {"num_envs": envs, "num_steps": 128, "minibatch_size": mb},
        "target_episodes": 25_000,
        "pid": 4100 + len(name),
        "started_at": now - 1260,
        "restarts": 3,
        "last_exit": None,
        "next_restart_at": None,
        "checkpoint": {"time": now - 45, "global_step": episodes * 900, "episodes": episodes},
        "metrics": {
            "global_step": episodes * 900,
            "episodes": episodes,
            "episodes_per_hour": eph,
            "sps": sps,
            "return_mean": ret,
            "return_min": ret - 5,
            "return_max": ret + 5,
            "time": now - 1,
        },
        "return_history": _wave(40, ret - 3, 3, len(name)),
        "gpu_memory_used": int(1.1 * GIB),
        "added_at": now - 7 * 3600,
    }
    game.update(extra)
    return game


def _boots(now: float) -> list[dict[str, Any]]:
    starts = [now - 5 * 3600, now - 50 * 60 + 180, now - 30 * 60 + 180, now - 14 * 60 + 180]
    ups = [starts[1] - 180 - starts[0], 17 * 60, 13 * 60, None]
    loads = [(8, 365, 35.2), (8, 361, 35.9), (8, 365, 36.4), (2, 20, 1.8)]
    boots = []
    for i, (start, up, (games, procs, mem)) in enumerate(zip(starts, ups, loads, strict=True)):
        boots.append(
            {
                "boot_id": f"boot-{i}",
                "boot_time": start,
                "first_seen": start + 40,
                "last_heartbeat": start + up if up else now,
                "uptime_s": up or now - start,
                "downtime_before_s": 180.0 if i else None,
                "load": {
                    "games": games,
                    "trainers": procs,
                    "gpu_memory_used": int(mem * GIB),
                    "gpu_temp_c": 71.0,
                },
            }
        )
    return boots


def _events(now: float) -> list[dict[str, Any]]:
    rows = [
        (now - 50 * 60, "reboot", None, "host rebooted after 4h 07m up (8 games, 365 procs)"),
        (now - 48 * 60, "restart", "MsPacman", "resumed from checkpoint at ep 1,204"),
        (now - 30 * 60, "reboot", None, "host rebooted after 17m up (8 games, 361 procs)"),
        (now - 14 * 60, "reboot", None, "host rebooted after 13m up (8 games, 365 procs)"),
        (now - 13 * 60, "ramp_ceiling", None, "after a reboot: back to 2 games; ceiling 2"),
        (now - 12 * 60, "guard_refused", "Asteroids", "refused: 3 trainers > ramp ceiling 2"),
        (now - 6 * 60, "crash", "Pong", "trainer exited with code 1 (CUDA error)"),
        (now - 6 * 60 + 2, "restart", "Pong", "restarting in 2s (attempt 1)"),
        (now - 45, "checkpoint", "MsPacman", "checkpoint at ep 1,490"),
    ]
    return [{"ts": ts, "kind": k, "game": g, "message": m, "data": {}} for ts, k, g, m in rows]


def _policy(now: float) -> dict[str, Any]:
    """Light profile, the ramp climbing under its ceiling, a queue, a beside trial to decide."""
    ramp: dict[str, Any] = {
        "enabled": True,
        "phase": "waiting",
        "step": 1,
        "steps": 4,
        "games": ["MsPacman", "Pong"],
        "ceiling": 2,
        "ceiling_games": 3,
        "stable_since": now - 18 * 60,
        "stable_s": 1800.0,
        "hold": None,
        "next_action": "add Asteroids",
        "next_action_at": now + 12 * 60,
        "last_step_at": now - 40 * 60,
    }
    guard: dict[str, Any] = {
        "budgets": {
            "max_gpu_memory_fraction": 0.5,
            "max_total_envs": 1024,
            "max_trainers": 8,
            "max_gpu_temp_c": 83.0,
            "max_host_ram_fraction": 0.9,
        },
        "load": {
            "envs": 320,
            "trainers": 3,
            "gpu_memory_fraction": 0.0875,
            "gpu_temp_c": 48.0,
            "ram_fraction": 0.34,
        },
        "breach": None,
        "paused": [],
        "last_refusal": None,
    }
    trial: dict[str, Any] = {
        "game": "Breakout",
        "mode": "beside",
        "status": "finished",
        "decision": None,
        "started_at": now - 25 * 60,
        "ends_at": now - 5 * 60,
        "minutes": 20,
        "settings": {"num_envs": 128, "num_steps": 128, "minibatch_size": 1024},
        "comparison": [
            {"figure": "episodes_per_hour", "current": 782.0, "trial": 915.0},
            {"figure": "sps", "current": 18400.0, "trial": 21650.0},
        ],
    }
    return {
        "profile": "light",
        "ramp": ramp,
        "guard": guard,
        "queue": {"waiting": ["Asteroids", "Freeway", "Seaquest"], "free_slots": 0},
        "trials": {"Breakout": trial},
        "plan": {},
    }


def recorded_state(now: float = NOW) -> dict[str, Any]:
    """The log's host at 18:00, a few minutes after its third reboot, light mode."""
    games = {
        "MsPacman": _game("MsPacman", "running", 32, 512, 1490, 1500.0, 6120.0, 412.5, now),
        "Pong": _game(
            "Pong",
            "backoff",
            32,
            512,
            812,
            402.0,
            5010.0,
            -12.4,
            now,
            last_exit="exit 1",
            next_restart_at=now + 2,
        ),
        "Breakout": _game("Breakout", "running", 256, 2048, 1000, 782.0, 18400.0, 31.0, now),
    }
    return {
        "host": {
            "hostname": "tnr-0",
            "boot_id": "boot-3",
            "boot_time": now - 14 * 60 + 180,
            "agent_version": "0.1.0",
            "agent_started": now - 13 * 60,
            "now": now,
            "uptime_s": 14 * 60 - 180,
            "reboots_24h": 3,
        },
        "gpus": [
            {
                "index": 0,
                "name": "NVIDIA A100 80GB PCIe",
                "utilization": 100.0,
                "memory_used": int(7.0 * GIB),
                "memory_total": 80 * GIB,
                "temperature_c": 48.0,
                "power_w": 212.0,
                "power_limit_w": 300.0,
                "processes": [
                    {"pid": 4108, "game": "MsPacman", "memory_used": int(1.1 * GIB)},
                    {"pid": 4104, "game": "Pong", "memory_used": int(0.7 * GIB)},
                ],
            }
        ],
        "gpu_error": None,
        "system": {
            "cpu_percent": 38.0,
            "ram_used": int(22 * GIB),
            "ram_total": 64 * GIB,
            "load_avg": [6.1, 5.8, 5.2],
            "disk_free": 120 * GIB,
        },
        "games": games,
        "boots": _boots(now),
        "events": _events(now),
        "policy": _policy(now),
        "history": {
            "gpu_util": _wave(40, 92, 8),
            "gpu_mem": _wave(40, 8.7, 0.8),
            "gpu_temp": _wave(40, 48, 3),
            "gpu_power": _wave(40, 210, 30),
            "cpu": _wave(40, 38, 10),
            "ram": _wave(40, 34, 2),
        },
    }
