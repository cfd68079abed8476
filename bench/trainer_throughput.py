"""Trainer throughput on Pong-v5: ours vs CleanRL's ppo_atari_envpool storage, and the
envpool random-action ceiling, each in its own process (so peak RSS is its own).

    python bench/trainer_throughput.py                 # 8 envs x 128 steps, + 32-env memory run
    python bench/trainer_throughput.py --quick         # 1 iteration, 1 round, no 32-env run
    python bench/trainer_throughput.py --num-envs 256 --minibatch-size 2048 --device cuda
    python bench/trainer_throughput.py --against 32:1024   # ours at 8 envs vs ours at 32

Prints figures; it is not a pass/fail test."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from machine import cpu_model  # bench/ is this script's directory
from ourloop import run_ours

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---- workers (each runs in a child process) ---------------------------------------------
def take_turn(a: argparse.Namespace) -> None:
    """In lockstep, report the last iteration done and wait for the driver's go: the two
    loops then run iterations alternately, never both at once, each in its own process."""
    if a.lockstep:
        print("ready", flush=True)
        sys.stdin.readline()


def result(sps_each: list[float], threads: int) -> dict[str, Any]:
    """A worker's answer: per-iteration steps/s after the warm-up, and its peak memory."""
    return {
        "sps": statistics.median(sps_each),
        "sps_each": sps_each,
        "peak_rss": peak_rss_bytes(),
        "threads": threads,
    }


def worker_ours(a: argparse.Namespace) -> dict[str, Any]:
    """The real trainer loop (metrics, heartbeat and all), SPS read from its update lines."""
    from controlroom.trainer.metrics import SPS

    def taking_turns(trainer: type) -> type:
        class TakingTurns(trainer):
            def budget_reached(self) -> bool:  # asked once per iteration, before its clock
                take_turn(a)
                return bool(super().budget_reached())

        return TakingTurns

    values = {
        "game": "Pong",
        "num_envs": a.num_envs,
        "num_steps": a.num_steps,
        "minibatch_size": a.minibatch_size,
        "device": a.device,
        "torch_threads": a.torch_threads,
    }
    lines, threads = run_ours(values, a.iterations, taking_turns)
    sps = [x[SPS] for x in lines if x["kind"] == "update"][1:]  # first one warms up
    return result(sps, threads)


def worker_cleanrl(a: argparse.Namespace) -> dict[str, Any]:
    """CleanRL ppo_atari_envpool.py's loop, reproduced: float32 observation storage,
    torch.Tensor(next_obs) per step, x / 255.0 in the network, b_obs[mb_inds] copies."""
    import envpool
    import torch
    from torch import nn
    from torch.distributions.categorical import Categorical

    from controlroom.trainer.model import layer_init

    if a.torch_threads:
        torch.set_num_threads(a.torch_threads)
    device = torch.device("cuda" if a.device != "cpu" and torch.cuda.is_available() else "cpu")
    torch.manual_seed(1)

    class CleanRLActorCritic(nn.Module):  # CleanRL calls it Agent
        def __init__(self, n: int) -> None:
            super().__init__()
            self.network = nn.Sequential(
                layer_init(nn.Conv2d(4, 32, 8, stride=4)),
                nn.ReLU(),
                layer_init(nn.Conv2d(32, 64, 4, stride=2)),
                nn.ReLU(),
                layer_init(nn.Conv2d(64, 64, 3, stride=1)),
                nn.ReLU(),
                nn.Flatten(),
                layer_init(nn.Linear(64 * 7 * 7, 512)),
                nn.ReLU(),
            )
            self.actor = layer_init(nn.Linear(512, n), std=0.01)
            self.critic = layer_init(nn.Linear(512, 1), std=1)

        def get_value(self, x: Any) -> Any:
            return self.critic(self.network(x / 255.0))

        def get_action_and_value(self, x: Any, action: Any = None) -> Any:
            hidden = self.network(x / 255.0)
            probs = Categorical(logits=self.actor(hidden))
            if action is None:
                action = probs.sample()
            return action, probs.log_prob(action), probs.entropy(), self.critic(hidden)

    n_envs, n_steps, batch = a.num_envs, a.num_steps, a.num_envs * a.num_steps
    envs = envpool.make(
        "Pong-v5", env_type="gym", num_envs=n_envs, episodic_life=True, reward_clip=True, seed=1
    )
    model = CleanRLActorCritic(int(envs.action_space.n)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2.5e-4, eps=1e-5)
    obs = torch.zeros((n_steps, n_envs, 4, 84, 84)).to(device)
    actions = torch.zeros((n_steps, n_envs)).to(device)
    logprobs = torch.zeros((n_steps, n_envs)).to(device)
    rewards = torch.zeros((n_steps, n_envs)).to(device)
    dones = torch.zeros((n_steps, n_envs)).to(device)
    values = torch.zeros((n_steps, n_envs)).to(device)
    next_obs = torch.Tensor(envs.reset()[0]).to(device)
    next_done = torch.zeros(n_envs).to(device)
    sps = []
    for _ in range(a.iterations + 1):
        take_turn(a)
        start = time.perf_counter()
        for step in range(n_steps):
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = model.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step], logprobs[step] = action, logprob
            o, reward, term, trunc, _info = envs.step(action.cpu().numpy())
            rewards[step] = torch.tensor(reward).to(device).view(-1)
            next_obs = torch.Tensor(o).to(device)
            next_done = torch.Tensor(np.logical_or(term, trunc)).to(device)
        with torch.no_grad():
            next_value = model.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards).to(device)
            lastgaelam = 0
            for t in reversed(range(n_steps)):
                if t == n_steps - 1:
                    nnt, nv = 1.0 - next_done, next_value
                else:
                    nnt, nv = 1.0 - dones[t + 1], values[t + 1]
                delta = rewards[t] + 0.99 * nv * nnt - values[t]
                advantages[t] = lastgaelam = delta + 0.99 * 0.95 * nnt * lastgaelam
            returns = advantages + values
        b_obs = obs.reshape((-1, 4, 84, 84))
        b_logprobs, b_actions = logprobs.reshape(-1), actions.reshape(-1)
        b_advantages, b_returns = advantages.reshape(-1), returns.reshape(-1)
        b_values = values.reshape(-1)
        b_inds = np.arange(batch)
        for _epoch in range(4):
            np.random.shuffle(b_inds)
            for start_i in range(0, batch, a.minibatch_size):
                mb = b_inds[start_i : start_i + a.minibatch_size]
                _, newlogprob, entropy, newvalue = model.get_action_and_value(
                    b_obs[mb], b_actions.long()[mb]
                )
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                mb_adv = b_advantages[mb]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio, -mb_adv * torch.clamp(ratio, 0.9, 1.1)).mean()
                newvalue = newvalue.view(-1)
                v_unclipped = (newvalue - b_returns[mb]) ** 2
                v_clipped = b_values[mb] + torch.clamp(newvalue - b_values[mb], -0.1, 0.1)
                v_loss = 0.5 * torch.max(v_unclipped, (v_clipped - b_returns[mb]) ** 2).mean()
                loss = pg_loss - 0.01 * entropy.mean() + v_loss * 0.5
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 0.5)
                optimizer.step()
        sps.append(batch / (time.perf_counter() - start))
    take_turn(a)  # the last iteration is done
    return result(sps[1:], torch.get_num_threads())


def worker_ceiling(a: argparse.Namespace) -> dict[str, Any]:
    """envpool alone, random actions: the most any trainer could do with these envs."""
    import envpool

    envs = envpool.make(
        "Pong-v5", env_type="gym", num_envs=a.num_envs, episodic_life=True, reward_clip=True, seed=1
    )
    envs.reset()
    rng = np.random.default_rng(1)
    steps = max(a.iterations, 1) * a.num_steps
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(rng.integers(0, envs.action_space.n, a.num_envs).astype(np.int32))
    return {"sps": steps * a.num_envs / (time.perf_counter() - start), "peak_rss": peak_rss_bytes()}


WORKERS = {"ours": worker_ours, "cleanrl": worker_cleanrl, "ceiling": worker_ceiling}


# ---- driver -------------------------------------------------------------------------------
def worker_cmd(name: str, a: argparse.Namespace, num_envs: int, minibatch: int) -> list[str]:
    return [
        sys.executable,
        "-W",
        "ignore",
        __file__,
        "--worker",
        name,
        "--num-envs",
        str(num_envs),
        "--minibatch-size",
        str(minibatch),
        "--num-steps",
        str(a.num_steps),
        "--iterations",
        str(a.iterations),
        "--torch-threads",
        str(a.torch_threads),
        "--device",
        a.device,
    ]


def run_worker(name: str, a: argparse.Namespace, num_envs: int, minibatch: int) -> dict[str, Any]:
    out = subprocess.run(
        worker_cmd(name, a, num_envs, minibatch),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_lockstep(
    names: list[str],
    a: argparse.Namespace,
    num_envs: int,
    minibatch: int,
    cmds: dict[str, list[str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Both loops in their own processes, iterations taken in turn (order alternating), so
    each of ours has a CleanRL iteration next to it in time: the VM's speed drifts 2x over
    minutes, and only such pairs compare like with like. `cmds`: a worker command per
    name instead (two shapes of ours, --against)."""
    cmds = cmds or {name: worker_cmd(name, a, num_envs, minibatch) for name in names}
    with tempfile.TemporaryFile("w+") as errors:
        procs = {
            name: subprocess.Popen(
                [*cmds[name], "--lockstep"],
                cwd=REPO,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
            for name in names
        }
        try:
            for name in names:  # set-up ran in parallel; wait until both are at the start
                _expect_ready(procs[name], errors)
            results: dict[str, dict[str, Any]] = {}
            turn = 0
            while len(results) < len(names):
                order = names if turn % 2 == 0 else names[::-1]
                for name in (n for n in order if n not in results):
                    done = _one_turn(procs[name], errors)
                    if done is not None:
                        results[name] = done
                turn += 1
            return results
        finally:
            for proc in procs.values():
                proc.kill()
                proc.wait()


def _one_turn(proc: subprocess.Popen[str], errors: Any) -> dict[str, Any] | None:
    """Let a waiting worker run one iteration; its result once it has no more."""
    assert proc.stdin
    assert proc.stdout
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = proc.stdout.readline().strip()
    if line == "ready":
        return None
    if not line.startswith("{"):
        _fail(proc, errors)
    return dict(json.loads(line))


def _expect_ready(proc: subprocess.Popen[str], errors: Any) -> None:
    assert proc.stdout
    if proc.stdout.readline().strip() != "ready":
        _fail(proc, errors)


def _fail(proc: subprocess.Popen[str], errors: Any) -> None:
    errors.seek(0)
    raise SystemExit(f"worker {proc.args} failed:\n{errors.read()[-3000:]}")


def machine_info(device: str) -> str:
    import torch

    cpu = cpu_model()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (
        f"CPU {cpu}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
        f"torch {torch.__version__}; GPU {gpu}; device {device}"
    )


def report(label: str, r: dict[str, Any]) -> None:
    print(f"  {label:<34} {r['sps']:8.0f} steps/s   peak RSS {r['peak_rss'] / 2**20:7.0f} MiB")


def compare(a: argparse.Namespace, num_envs: int, minibatch: int) -> None:
    """The ceiling once, then `rounds` lockstep runs of ours and CleanRL."""
    print(
        f"Pong-v5, {num_envs} envs x {a.num_steps} steps, 4 epochs x "
        f"{num_envs * a.num_steps // minibatch} minibatches of {minibatch}; "
        f"{a.rounds} round(s) of {a.iterations} iterations after one warm-up, "
        "ours and CleanRL taking iterations in turn:"
    )
    report("envpool random-action ceiling", run_worker("ceiling", a, num_envs, minibatch))
    names = ["ours"] if a.skip_cleanrl else ["ours", "cleanrl"]
    pairs: list[float] = []
    for round_no in range(a.rounds):
        got = run_lockstep(names, a, num_envs, minibatch)
        print(f" round {round_no + 1} (load {os.getloadavg()[0]:.1f}):")
        report(f"controlroom.trainer ({got['ours']['threads']} threads)", got["ours"])
        if "cleanrl" in got:
            report(f"CleanRL-style float32 ({got['cleanrl']['threads']} threads)", got["cleanrl"])
            ratios = [
                x / y
                for x, y in zip(got["ours"]["sps_each"], got["cleanrl"]["sps_each"], strict=True)
            ]
            pairs += ratios
            print(
                f"  ours / CleanRL: {statistics.median(ratios):.2f}x steps/s (iterations "
                f"{' '.join(f'{r:.2f}' for r in ratios)}), "
                f"{got['ours']['peak_rss'] / got['cleanrl']['peak_rss']:.2f}x peak RSS"
            )
    if a.rounds > 1 and pairs:
        quartiles = statistics.quantiles(pairs, n=4)
        print(
            f" all {len(pairs)} paired iterations: median {statistics.median(pairs):.2f}x "
            f"steps/s, middle half {quartiles[0]:.2f}-{quartiles[2]:.2f}x"
        )


def compare_shapes(a: argparse.Namespace, envs: int, minibatch: int) -> None:
    """Ours at the given shape against ours at `envs`:`minibatch` (a tune's choice), in
    lockstep: iterations in turn, each pair's steps/s ratio."""
    base, other = f"{a.num_envs}:{a.minibatch_size}", f"{envs}:{minibatch}"
    cmds = {
        base: worker_cmd("ours", a, a.num_envs, a.minibatch_size),
        other: worker_cmd("ours", a, envs, minibatch),
    }
    print(f"Pong-v5, ours at {base} vs {other} (envs:minibatch, x {a.num_steps} steps), lockstep:")
    pairs: list[float] = []
    for round_no in range(a.rounds):
        got = run_lockstep([base, other], a, 0, 0, cmds)
        print(f" round {round_no + 1} (load {os.getloadavg()[0]:.1f}):")
        report(f"{base} envs:minibatch", got[base])
        report(f"{other} envs:minibatch", got[other])
        ratios = [x / y for x, y in zip(got[other]["sps_each"], got[base]["sps_each"], strict=True)]
        pairs += ratios
        print(f"  {other} / {base}: {' '.join(f'{r:.2f}' for r in ratios)}")
    quartiles = statistics.quantiles(pairs, n=4) if len(pairs) > 1 else [pairs[0]] * 3
    print(
        f" all {len(pairs)} paired iterations: median {statistics.median(pairs):.2f}x steps/s, "
        f"middle half {quartiles[0]:.2f}-{quartiles[2]:.2f}x"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", choices=sorted(WORKERS))
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--num-steps", type=int, default=128)
    p.add_argument("--minibatch-size", type=int, default=256)
    p.add_argument("--iterations", type=int, default=6, help="timed iterations per run")
    p.add_argument("--rounds", type=int, default=3, help="lockstep ours/CleanRL runs")
    p.add_argument("--lockstep", action="store_true", help="(worker) wait for a go per iteration")
    p.add_argument("--torch-threads", type=int, default=0, help="0 = torch default")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="1 iteration, 1 round, no 32-env run")
    p.add_argument("--skip-cleanrl", action="store_true")
    p.add_argument(
        "--against", metavar="ENVS:MINIBATCH", help="ours at this shape vs ours at the given one"
    )
    a = p.parse_args()
    if a.worker:
        print(json.dumps(WORKERS[a.worker](a)))
        return
    if a.quick:
        a.iterations, a.rounds = 1, 1
    print(machine_info(a.device))
    if a.against:
        envs, _, minibatch = a.against.partition(":")
        compare_shapes(a, int(envs), int(minibatch))
        return
    compare(a, a.num_envs, a.minibatch_size)
    if not a.quick and a.num_envs == 8:
        # mainly a memory figure; a 32-env iteration is 4096 steps
        a.iterations, a.rounds = 2, min(a.rounds, 2)
        compare(a, 32, 1024)


if __name__ == "__main__":
    main()
