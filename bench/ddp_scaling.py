"""One game's steps/s as a torchrun job of 1 vs N ranks (issue 14.2), each rank with the
same per-rank settings (weak scaling: N ranks step N times the envs), measured from the
job's own update lines (charts/SPS, summed over the ranks by rank 0).

    python bench/ddp_scaling.py                          # CPU here: 1 and 2 ranks, gloo
    python bench/ddp_scaling.py --ranks 1 2 4 8 --device cuda --game Pong --num-envs 64

1 rank runs the plain trainer (no torchrun, no process group), as the agent starts a game
of one GPU. Prints figures; it is not a pass/fail test. bench/gpu_check.py runs the same
measurement on a multi-GPU host.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def command(ranks: int, run_dir: Path, a: argparse.Namespace) -> list[str]:
    """The command line the agent would use for a game of `ranks` GPUs."""
    flags = [
        "--game",
        a.game,
        "--num-envs",
        str(a.num_envs),
        "--num-steps",
        str(a.num_steps),
        "--minibatch-size",
        str(a.minibatch_size),
        "--device",
        a.device,
        "--torch-threads",
        str(a.torch_threads),
        "--run-dir",
        str(run_dir),
        "--checkpoint-interval",
        "3600",
    ]
    if ranks == 1:
        return [sys.executable, "-m", "controlroom.trainer", *flags]
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks)]
    return [sys.executable, *torchrun, "--max-restarts", "0", "-m", "controlroom.trainer", *flags]


def updates(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [x for x in lines if x.get("kind") == "update"]


def measure(ranks: int, a: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Run the job until `a.updates` update lines after the first (warm-up), then stop it."""
    run_dir = root / f"ranks-{ranks}"
    run_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    with open(root / f"ranks-{ranks}.log", "wb") as log:
        proc = subprocess.Popen(command(ranks, run_dir, a), stdout=log, stderr=log, env=env)
    deadline = time.monotonic() + a.seconds
    while time.monotonic() < deadline and len(updates(run_dir)) < a.updates + 1:
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    timed = updates(run_dir)[1:]
    sps = [u["charts/SPS"] for u in timed]
    return {
        "ranks": ranks,
        "updates": len(timed),
        "steps_per_s": statistics.median(sps) if sps else None,
        "per_rank": statistics.median(sps) / ranks if sps else None,
    }


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpus": torch.cuda.device_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def run(a: argparse.Namespace) -> dict[str, Any]:
    """Every rank count in turn; the figures with the machine they came from."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ranks in a.ranks:
            rows.append(measure(ranks, a, Path(tmp)))
            print(_row(rows[-1], rows[0]), flush=True)
    return {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "rows": rows}


def _row(row: dict[str, Any], first: dict[str, Any]) -> str:
    sps, base = row["steps_per_s"], first["steps_per_s"]
    if sps is None:
        return f"  {row['ranks']} rank(s): no update within the time given"
    scale = f"  x{sps / base:.2f} of 1 rank" if base else ""
    return f"  {row['ranks']} rank(s): {sps:8.0f} steps/s  ({row['per_rank']:.0f} per rank){scale}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--game", default="CartPole-v1")
    p.add_argument("--num-envs", type=int, default=8, help="per rank")
    p.add_argument("--num-steps", type=int, default=128)
    p.add_argument("--minibatch-size", type=int, default=256, help="per rank")
    p.add_argument("--device", default="cpu")
    p.add_argument("--torch-threads", type=int, default=1, help="per rank")
    p.add_argument("--updates", type=int, default=5, help="timed updates after a warm-up one")
    p.add_argument("--seconds", type=float, default=300, help="per rank count, at most")
    p.add_argument("--out", help="also write the figures here as JSON")
    return p


def main() -> int:
    a = parser().parse_args()
    print(
        f"{a.game}, {a.num_envs} envs x {a.num_steps} steps, minibatch {a.minibatch_size} "
        f"per rank, {a.device}:",
        flush=True,
    )
    result = run(a)
    print(json.dumps(result["machine"]))
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
