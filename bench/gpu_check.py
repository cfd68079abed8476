"""The checks CI cannot make: NVML and the trainer on a real NVIDIA GPU, in one short run.

    python bench/gpu_check.py --out gpu_check.json     # a few minutes; prints and writes figures

1. NVML readings from the agent's reader against `nvidia-smi` at the same moment, and
   per-process GPU memory mapped to the right trainer pid.
2. Trainer steps/s on CUDA for Pong at 8 envs and at the log's settings (32/512, 64/1024,
   256/2048), with the trainer's own CUDA memory figures.
3. Several trainers with a memory cap each: every one stays under its cap.
4. A trainer SIGKILLed on CUDA resumes from its checkpoint.
5. One Pong game as a torchrun job of 1, 2, 4 and 8 ranks (as many as the host has
   GPUs; nccl), 64 envs per rank: the job's steps/s (bench/ddp_scaling.py's measurement).

Record the figures in bench/RESULTS.md with the GPU model, driver and date. It changes no
GPU setting. Needs the [agent] extra and a CUDA build of torch.
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

SHAPES = [(8, 256), (32, 512), (64, 1024), (256, 2048)]  # (num_envs, minibatch_size)
RANKS = [1, 2, 4, 8]  # job sizes for the multi-GPU figures, up to the host's GPU count
CKPT_OFTEN = ("--checkpoint-interval", "2")  # seconds: the kill check needs one soon
SMI_FIELDS = (
    "utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,name,driver_version"
)


def nvidia_smi() -> list[dict[str, str]]:
    out = subprocess.run(
        ["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    keys = SMI_FIELDS.split(",")
    return [
        dict(zip(keys, (v.strip() for v in line.split(",")), strict=True))
        for line in out.strip().splitlines()
    ]


def smi_apps() -> dict[int, int]:
    out = subprocess.run(
        ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    apps = {}
    for line in out.strip().splitlines():
        pid, mib = (v.strip() for v in line.split(","))
        apps[int(pid)] = int(mib) * 2**20
    return apps


def check_nvml(trainer_pids: list[int]) -> dict[str, Any]:
    from controlroom.agent.readings.nvml import NvmlReader, process_memory

    reader = NvmlReader()
    ours, smi, apps = reader.read(), nvidia_smi(), smi_apps()
    rows = []
    for reading, theirs in zip(ours, smi, strict=False):
        rows.append(
            {
                "name": reading.name,
                "driver": theirs["driver_version"],
                "util": (reading.utilization, float(theirs["utilization.gpu"])),
                "mem_used_mib": (reading.memory_used / 2**20, float(theirs["memory.used"])),
                "mem_total_mib": (reading.memory_total / 2**20, float(theirs["memory.total"])),
                "temp_c": (reading.temperature_c, float(theirs["temperature.gpu"])),
                "power_w": (reading.power_w, float(theirs["power.draw"])),
            }
        )
    per_pid = process_memory(ours)
    reader.close()
    return {"gpus": rows, "pids": {p: (per_pid.get(p), apps.get(p)) for p in trainer_pids}}


def trainer(run_dir: Path, envs: int, mb: int, *extra: str) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "controlroom.trainer",
        "--game",
        "Pong",
        "--device",
        "cuda",
        "--num-envs",
        str(envs),
        "--num-steps",
        "128",
        "--minibatch-size",
        str(mb),
        "--run-dir",
        str(run_dir),
        "--checkpoint-interval",
        "20",
        *extra,
    ]
    log = (run_dir.parent / f"{run_dir.name}.log").open("ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(args, stdout=log, stderr=log, env=env)


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def wait_updates(run_dir: Path, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        updates = [m for m in metrics(run_dir) if m["kind"] == "update"]
        if len(updates) >= count:
            return updates
        time.sleep(1)
    return [m for m in metrics(run_dir) if m["kind"] == "update"]


def wait_checkpoint(run_dir: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any((run_dir / "checkpoints").glob("*.pt")):
            return True
        time.sleep(1)
    return False


def throughput(root: Path, seconds: float) -> list[dict[str, Any]]:
    rows = []
    for envs, mb in SHAPES:
        run = root / f"tp-{envs}"
        run.mkdir()
        proc = trainer(run, envs, mb)
        updates = wait_updates(run, 4, seconds)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        last = updates[-1] if updates else {}
        rows.append(
            {
                "num_envs": envs,
                "minibatch": mb,
                "updates": len(updates),
                "sps": last.get("charts/SPS"),
                "cuda_reserved": last.get("sys/cuda_reserved_bytes"),
                "rss": last.get("sys/rss_bytes"),
            }
        )
        print(rows[-1], flush=True)
    return rows


def capped_and_killed(root: Path, cap: float) -> dict[str, Any]:
    runs = [root / f"cap-{i}" for i in range(3)]
    procs = []
    for run in runs:
        run.mkdir()
        procs.append(trainer(run, 32, 512, "--gpu-memory-fraction", str(cap), *CKPT_OFTEN))
    for run in runs:
        wait_updates(run, 2, 240)
    nvml = check_nvml([p.pid for p in procs])
    last = [(wait_updates(r, 1, 1) or [{}])[-1] for r in runs]
    reserved = [m.get("sys/cuda_reserved_bytes") for m in last]
    wait_checkpoint(runs[0], 240)  # a kill before the first checkpoint resumes nothing
    victim, before = procs[0], wait_updates(runs[0], 1, 1)[-1]["global_step"]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    for p in procs[1:]:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)
    resumed = trainer(runs[0], 32, 512, "--resume", "--gpu-memory-fraction", str(cap), *CKPT_OFTEN)
    starts = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(starts) < 2:
        starts = [m for m in metrics(runs[0]) if m["kind"] == "start"]
        time.sleep(1)
    resumed.send_signal(signal.SIGTERM)
    resumed.wait(timeout=120)
    return {
        "cap_fraction": cap,
        "nvml": nvml,
        "cuda_reserved": reserved,
        "killed_at_step_at_least": before,
        "resumed_from": starts[-1].get("resumed_from") if len(starts) > 1 else None,
    }


def multi_gpu(root: Path, seconds: float) -> list[dict[str, Any]]:
    """A Pong job of each size in RANKS the host's GPUs allow, 64 envs per rank."""
    import torch
    from ddp_scaling import measure, parser  # bench/ is this script's directory

    pong = ["--game", "Pong", "--num-envs", "64", "--minibatch-size", "1024", "--device", "cuda"]
    a = parser().parse_args([*pong, "--torch-threads", "0", "--seconds", str(seconds)])
    rows: list[dict[str, Any]] = []
    if torch.cuda.device_count() < 2:
        print("one GPU: no multi-GPU figures (a job of one rank is the plain trainer above)")
        return rows
    for ranks in [r for r in RANKS if r <= torch.cuda.device_count()]:
        rows.append(measure(ranks, a, root))
        print(rows[-1], flush=True)
    return rows


def has_gpu() -> bool:
    """nvidia-smi and a CUDA build of torch that sees a device."""
    import shutil

    import torch

    return shutil.which("nvidia-smi") is not None and torch.cuda.is_available()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="gpu_check.json")
    p.add_argument("--seconds", type=float, default=90, help="per throughput shape, at most")
    p.add_argument("--cap", type=float, default=0.05, help="memory fraction per capped trainer")
    p.add_argument("--multi-gpu-only", action="store_true", help="only the job-size figures (5)")
    a = p.parse_args()
    if not has_gpu():
        print("bench/gpu_check.py needs an NVIDIA GPU (nvidia-smi and a CUDA build of torch)")
        print("and several for the multi-GPU figures; none here, nothing measured.")
        return 2
    result: dict[str, Any] = {"when": time.strftime("%Y-%m-%d %H:%M:%S")}
    result["smi"] = nvidia_smi()
    with tempfile.TemporaryDirectory() as tmp:
        if not a.multi_gpu_only:
            result["nvml_idle"] = check_nvml([])
            result["throughput"] = throughput(Path(tmp), a.seconds)
            result["capped"] = capped_and_killed(Path(tmp), a.cap)
        result["multi_gpu"] = multi_gpu(Path(tmp), 4 * a.seconds)
    Path(a.out).write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
