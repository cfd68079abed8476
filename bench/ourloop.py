"""The real trainer loop (controlroom.trainer.loop.Trainer) run inside a bench's worker
process, with the process settings its entry point makes (controlroom.trainer.runtime):
the one way every bench here runs our trainer."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_ours(values: dict[str, Any], iterations: int, hooks: Callable[[type], type]) -> Any:
    """Train `iterations` + 1 iterations (the first warms up) with `values` over the
    trainer's defaults, in a temporary run dir and with no checkpoint on the way, as the
    Trainer subclass `hooks(Trainer)` makes. Returns the metrics lines and torch's
    thread count."""
    from controlroom.trainer.runtime import keep_freed_memory, passive_openmp

    passive_openmp()  # before torch loads
    keep_freed_memory()
    import torch

    from controlroom.trainer.loop import Trainer, configure_torch, pick_device
    from controlroom.trainer.settings import make_settings

    steps = (iterations + 1) * values["num_envs"] * values["num_steps"]
    with tempfile.TemporaryDirectory() as tmp:
        s = make_settings(
            {**values, "total_steps": steps, "run_dir": tmp, "checkpoint_interval": 604800}
        )
        (Path(tmp) / "checkpoints").mkdir()
        device = pick_device(s.device)
        configure_torch(s, device)
        hooks(Trainer)(s, device, None).run()
        lines = [json.loads(x) for x in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    return lines, torch.get_num_threads()
