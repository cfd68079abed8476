"""The policy state in the kv store: a record written before the engine's state was typed
(plain dicts, as json.dumps wrote them) loads and saves back to the same JSON, and an
unreadable part starts afresh on its own, costing nothing else."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest

from controlroom import protocol
from controlroom.agent.policy import saved

SHAPE = {"num_envs": 8, "num_steps": 128, "minibatch_size": 256}
BEFORE = {
    "episodes_per_hour": 700.0,
    "sps": 1000,
    "gpu_memory_used": None,
    "gpu_temp_c": None,
    "episodes": 12,
    "settings": SHAPE,
}
OLD: dict[str, Any] = {
    "ramp": {
        "enabled": True,
        "step": 1,
        "ceiling": 1,
        "stable_since": 10.0,
        "boot_id": "b1",
        "hold": None,
        "last_step_at": 5.0,
    },
    "guard": {"paused": ["Pong"], "last_action_at": 12.0},
    "queue": {
        "waiting": ["Freeway"],
        "finished": ["Enduro"],
        "free_slots": [{"from": "Enduro", "settings": {**SHAPE, "seed": 3}}],
    },
    "trials": {
        "Pong": {
            "game": "Pong",
            "status": "finished",
            "started_at": 100.0,
            "ends_at": 1300.0,
            "minutes": 20,
            "snapshot": "20261129T110000.000",
            "restore_settings": {**SHAPE, "seed": 1},
            "before": BEFORE,
            "trial": None,
            "keep": True,
            "mode": "instead",
            "ended_at": 1300.0,
            "comparison": [
                {"figure": "settings", "current": SHAPE, "trial": None},
                {"figure": "episodes_per_hour", "current": 700.0, "trial": None},
            ],
            "discarded": False,
            "outcome": "learning kept (rollback Pong discards it)",
        },
        "Breakout": {
            "game": "Breakout",
            "mode": "beside",
            "status": "running",
            "started_at": 100.0,
            "ends_at": 400.0,
            "minutes": 5.0,
            "dir": "/state/trials/Breakout/20261129T110000",
            "from_checkpoint": {"file": "ckpt-1.pt", "global_step": 2048, "episodes": 3},
            "settings": {**SHAPE, "num_envs": 16},
            "restore_settings": SHAPE,
            "before": BEFORE,
            "current": None,
            "trial": None,
            "keep": None,
            "decision": None,
            "pid": 4321,
            "create_time": 99.5,
            "cmdline": ["python", "-m", "controlroom.trainer"],
        },
    },
    "profile": "light",
}


def test_an_old_record_loads_and_saves_back_the_same() -> None:
    kept = saved.load(copy.deepcopy(OLD))
    assert kept.ramp.ceiling == 1 and kept.guard.paused == ["Pong"]
    assert kept.queue.free_slots[0].game == "Enduro"
    assert isinstance(kept.trials["Pong"], protocol.InsteadTrial)
    assert isinstance(kept.trials["Breakout"], protocol.BesideTrial)
    back = json.loads(json.dumps(saved.dump(kept)))
    assert back["guard"] == {**OLD["guard"], "clear_since": None}
    assert {k: v for k, v in back.items() if k not in ("guard", "tune")} == {
        k: v for k, v in OLD.items() if k != "guard"
    }
    # A record from before the tune gets an empty tune book.
    assert back["tune"] == {"tunes": {}, "waiting": [], "ceilings": {}, "boot_id": None}


def test_an_unreadable_part_starts_afresh_alone(caplog: pytest.LogCaptureFixture) -> None:
    broken = copy.deepcopy(OLD)
    broken["trials"]["Pong"]["status"] = 5
    broken["queue"] = "not a queue"
    with caplog.at_level(logging.WARNING):
        kept = saved.load(broken)
    assert list(kept.trials) == ["Breakout"] and kept.queue.waiting == []
    assert kept.ramp.ceiling == 1 and kept.profile == "light"
    said = caplog.text
    assert "saved policy trial of Pong is unreadable" in said and "policy queue" in said
    assert saved.load(None) == saved.SavedPolicy()
