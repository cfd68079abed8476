"""The training loop: rollouts, updates, checkpoints, metrics and signals."""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch

from controlroom.trainer import checkpoint, envs, metrics
from controlroom.trainer.distributed import RANK_SEED_STRIDE, Local, check_same
from controlroom.trainer.model import ActorCritic
from controlroom.trainer.ppo import Batch, Rollout, UpdateStats, gae, update
from controlroom.trainer.settings import TrainerSettings

log = logging.getLogger(__name__)
CHECKPOINT_VERSION = 1
# Ranks of a job agree on stopping every this many rollout steps (a one-rank run checks
# every step): a tiny collective, cheap next to the env steps it spaces out.
STOP_CHECK_STEPS = 8


def pick_device(name: str) -> torch.device:
    """'auto' means CUDA when present."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def configure_torch(s: TrainerSettings, device: torch.device, rank: int = 0) -> None:
    """Threads, seeds (offset per rank) and the GPU memory cap (a no-op on CPU)."""
    threads = s.threads("torch_threads")
    if threads:
        torch.set_num_threads(threads)
    seed_everything(s.seed + rank * RANK_SEED_STRIDE)
    if device.type == "cuda" and s.gpu_memory_fraction > 0:
        # The cap takes a device index: a bare "cuda" (what 'auto' picks) has none, and
        # torch raises on it (seen on an H200 with torch 2.11; CI has no GPU to see it).
        index = device.index if device.index is not None else torch.cuda.current_device()
        torch.cuda.set_per_process_memory_fraction(s.gpu_memory_fraction, index)


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """One game's PPO run, or one rank of a data-parallel job (`sync`); `run()` returns
    the exit reason. Counters (steps, episodes, updates) are the job's totals on every
    rank; rank 0 alone writes metrics and checkpoints."""

    def __init__(
        self,
        s: TrainerSettings,
        device: torch.device,
        resumed: tuple[Path, dict[str, Any]] | None,
        sync: Local | None = None,
    ) -> None:
        self.s, self.device = s, device
        self.sync = sync or Local()
        self.world = self.sync.world
        self.global_step, self.episodes, self.updates = 0, 0, 0
        self.stats = metrics.RollingStats()
        self.rng = np.random.default_rng(s.seed + self.world.rank * RANK_SEED_STRIDE)
        self.stop_requested = False  # a signal reached this rank
        self.finished: list[tuple[float, int]] = []  # this rank's, not yet counted
        self._install_signals()  # before the slow env and model set-up, so no signal is lost
        self.resumed_from = str(resumed[0]) if resumed else None
        self.envs = envs.make_envs(s, self._env_seed(resumed))
        self.model = ActorCritic(envs.obs_shape(self.envs), envs.num_actions(self.envs)).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=s.learning_rate, eps=1e-5)
        if resumed:
            self._restore(resumed[1])
        self.sync.broadcast_model(self.model)  # one set of parameters from the start
        self.tracker = envs.EpisodeTracker(s.num_envs, s.is_atari)
        self.writer = self._writer()
        self.tb = None
        if s.tensorboard and self.world.main:
            self.tb = metrics.TensorBoardMirror(s.run_path / "tensorboard")
        self.phase = "start"
        self.last_checkpoint = time.monotonic()

    def _writer(self) -> metrics.MetricsWriter | metrics.NullWriter:
        if not self.world.main:
            return metrics.NullWriter()
        return metrics.MetricsWriter(
            self.s.run_path / "metrics.jsonl", segment_bytes=int(self.s.metrics_segment_mb * 2**20)
        )

    def _env_seed(self, resumed: tuple[Path, dict[str, Any]] | None) -> int:
        # A resumed run must not replay the very episodes it already played; rank r's
        # envs take the seeds after those of ranks 0..r-1 (envpool seeds env i with
        # seed + i), so a job of N ranks x E envs starts the envs one rank of N x E would.
        step = int(resumed[1]["global_step"]) if resumed else 0
        return (self.s.seed + step + self.world.rank * self.s.num_envs) % (2**31 - 1)

    # ---- checkpoint state -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: model, optimizer, counters, RNGs."""
        rng: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "python": random.getstate(),
            "numpy": self.rng.bit_generator.state,
        }
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "version": CHECKPOINT_VERSION,
            "settings": self.s.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "global_step": self.global_step,
            "episodes": self.episodes,
            "updates": self.updates,
            "learning_rate": self.learning_rate(),
            "time": time.time(),
            "rng": rng,
            "rolling": self.stats.state(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.global_step, self.episodes = int(state["global_step"]), int(state["episodes"])
        self.updates = int(state["updates"])
        self.stats.restore(state["rolling"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        random.setstate(rng["python"])
        self.rng.bit_generator.state = rng["numpy"]
        if self.device.type == "cuda" and "cuda" in rng:
            torch.cuda.set_rng_state_all(rng["cuda"])
        if self.world.rank:  # the checkpoint's generators are rank 0's
            seed_everything(self.s.seed + self.world.rank * RANK_SEED_STRIDE + self.global_step)

    def save_checkpoint(self) -> None:
        """Atomic checkpoint plus a metrics line, by rank 0 once every rank's parameters
        are checked to be the same (a job's ranks all call this at the same point)."""
        digests = self.sync.digests(self.model)
        check_same(digests)
        self.last_checkpoint = time.monotonic()
        if not self.world.main:
            return
        path = checkpoint.save(self.s.run_path, self.state_dict(), self.s.keep_checkpoints)
        extra = {"param_digests": digests} if self.world.size > 1 else {}
        self.writer.write(metrics.KIND_CHECKPOINT, path=str(path), **extra)

    # ---- the loop ---------------------------------------------------------------------
    def learning_rate(self) -> float:
        """Linear annealing by global step, so the schedule survives a resize on resume."""
        if not (self.s.anneal_lr and self.s.total_steps):
            return self.s.learning_rate
        return self.s.learning_rate * max(0.0, 1.0 - self.global_step / self.s.total_steps)

    def budget_reached(self) -> bool:
        """Whether the step or episode budget is spent."""
        s = self.s
        return bool(
            (s.total_steps and self.global_step >= s.total_steps)
            or (s.target_episodes and self.episodes >= s.target_episodes)
        )

    def run(self) -> str:
        """Train until the budget is spent or a signal arrives; always end on a checkpoint."""
        self.writer.set_counters(self.global_step, self.episodes)
        self.writer.write(
            metrics.KIND_START,
            settings=self.s.to_dict(),
            resumed_from=self.resumed_from,
            pid=os.getpid(),
            **{metrics.WORLD_SIZE: self.world.size},
        )
        beat = metrics.Heartbeat(
            self.writer, self.s.heartbeat_interval, self._beat_fields, held=self._waiting_on_peers
        )
        beat.start()
        try:
            reason = self._train()
            self.save_checkpoint()
        except BaseException:
            self.writer.write(metrics.KIND_EXIT, reason=metrics.REASON_ERROR)
            raise
        finally:
            beat.stop()
        self.writer.write(metrics.KIND_EXIT, reason=reason)
        self._close()
        return reason

    def _train(self) -> str:
        rollout = Rollout.allocate(
            self.s, envs.obs_shape(self.envs), _torch_dtype(self.envs), self.device
        )
        obs, _ = self.envs.reset()
        next_obs = torch.from_numpy(obs).to(self.device)
        next_done = torch.zeros(self.s.num_envs, device=self.device)
        while not self.budget_reached():
            started, step0 = time.perf_counter(), self.global_step
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate()
            next_obs, next_done = self._collect(rollout, next_obs, next_done)
            if self._agree_stop():
                return metrics.REASON_SIGNAL
            stats = self._learn(rollout, next_obs, next_done)
            self._report(stats, (self.global_step - step0) / (time.perf_counter() - started))
            if self._agree_stop():
                return metrics.REASON_SIGNAL
            if self.sync.from_main(self._checkpoint_due()):
                self.save_checkpoint()
        return metrics.REASON_BUDGET

    def _checkpoint_due(self) -> bool:
        return time.monotonic() - self.last_checkpoint >= self.s.checkpoint_interval

    def _agree_stop(self) -> bool:
        """Whether to stop now: on a job, once any rank got a signal (all ranks learn it
        at the same call, so none is left waiting in a collective)."""
        return self.sync.any(self.stop_requested)

    def _waiting_on_peers(self) -> bool:
        """Rank 0 has waited over a heartbeat interval for the other ranks: a hung rank
        holds the whole job, and rank 0's silence is how the agent sees it."""
        return self.sync.blocked_s() > self.s.heartbeat_interval

    def _collect(
        self,
        r: Rollout,
        next_obs: torch.Tensor,
        next_done: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.phase = "rollout"
        every = STOP_CHECK_STEPS if self.world.size > 1 else 1
        for step in range(self.s.num_steps):
            if step % every == 0 and self._agree_stop():
                break
            r.obs[step].copy_(next_obs)
            r.dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = self.model.act(next_obs)
            r.actions[step], r.logprobs[step], r.values[step] = action, logprob, value
            obs, reward, term, trunc, info = self.envs.step(action.cpu().numpy())
            self._count(self.tracker.step(reward, term, trunc, info))
            r.rewards[step] = torch.from_numpy(reward)
            next_obs = torch.from_numpy(obs).to(self.device)
            next_done = torch.from_numpy((term | trunc).astype(np.float32)).to(self.device)
        if self.world.size > 1:
            self._count_job()
        return next_obs, next_done

    def _count(self, finished: list[tuple[float, int]]) -> None:
        # Every rank steps its envs in lockstep: the job's step count needs no collective.
        self.global_step += self.s.num_envs * self.world.size
        self.finished.extend(finished)
        if self.world.size == 1:
            self._count_job()
        else:
            self.writer.set_counters(self.global_step, self.episodes)

    def _count_job(self) -> None:
        """Add every rank's finished episodes (once per rollout on a job)."""
        finished, self.finished = self.sync.gather(self.finished), []
        self.episodes += len(finished)
        self.stats.add(finished)
        self.writer.set_counters(self.global_step, self.episodes)

    def _learn(
        self,
        r: Rollout,
        next_obs: torch.Tensor,
        next_done: torch.Tensor,
    ) -> UpdateStats:
        self.phase = "update"
        with torch.no_grad():
            adv, ret = gae(
                r, self.model.value(next_obs), next_done, self.s.gamma, self.s.gae_lambda
            )
        batch = Batch.from_rollout(r, adv, ret)
        stats = update(
            self.model,
            self.optimizer,
            batch,
            self.s,
            self.rng,
            should_stop=self._agree_stop,
            sync=self.sync,
        )
        self.updates += 1
        return stats

    def _report(self, u: UpdateStats, sps: float) -> None:
        now = time.time()
        values: dict[str, Any] = {
            metrics.EPISODES_PER_HOUR: self.stats.episodes_per_hour(self.episodes, now),
            metrics.SPS: sps,
            **self.stats.summary(),
            metrics.POLICY_LOSS: u.policy_loss,
            metrics.VALUE_LOSS: u.value_loss,
            metrics.ENTROPY: u.entropy,
            metrics.APPROX_KL: u.approx_kl,
            metrics.CLIPFRAC: u.clipfrac,
            metrics.LEARNING_RATE: self.optimizer.param_groups[0]["lr"],
            **metrics.system_stats(self.device),
            metrics.NUM_ENVS: self.s.num_envs,
            metrics.MINIBATCH_SIZE: self.s.minibatch_size,
            metrics.WORLD_SIZE: self.world.size,
        }
        self.writer.write(metrics.KIND_UPDATE, **values)
        if self.tb:
            self.tb.write(self.global_step, {metrics.EPISODES: self.episodes, **values})

    def _beat_fields(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            metrics.RSS_BYTES: metrics.system_stats(self.device)[metrics.RSS_BYTES],
        }

    # ---- process plumbing -------------------------------------------------------------
    def _install_signals(self) -> None:
        def request_stop(signum: int, frame: FrameType | None) -> None:
            log.warning("signal %d: finishing with a checkpoint", signum)
            self.stop_requested = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    def _close(self) -> None:
        self.writer.close()
        if self.tb:
            self.tb.close()
        close = getattr(self.envs, "close", None)
        if close:
            close()


def _torch_dtype(vec_env: Any) -> torch.dtype:
    dtype = np.dtype(vec_env.observation_space.dtype)
    return torch.uint8 if dtype == np.uint8 else torch.float32
