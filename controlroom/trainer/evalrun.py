"""The evaluator's torch and envpool half: load the policy, play the episodes.

Kept apart from evaluate.py so that the command line checks its options (and answers
--help) before torch and envpool load, as the trainer's does."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import torch

from controlroom.trainer import envs
from controlroom.trainer.evalcore import MAX_ENVS, EvalError, EvalOptions, Played, load, quotas
from controlroom.trainer.evalcore import result as eval_result
from controlroom.trainer.evalscreen import Frame, Screen
from controlroom.trainer.evalvideo import ATARI_FPS, CLASSIC_FPS, VideoSink
from controlroom.trainer.evalwatch import FrameStream
from controlroom.trainer.model import ActorCritic
from controlroom.trainer.settings import TrainerSettings, known_env_ids


class FrameSink(Protocol):
    """Where the frames of the one env a recording or watch plays go."""

    def frame(self, rgb: Frame) -> None:
        """One step's screen."""

    def episode_end(self, score: float, length: int) -> None:
        """An episode ended with this score."""


def settings_of(state: dict[str, Any], num_envs: int) -> TrainerSettings:
    """The checkpoint's training settings with the evaluator's env count."""
    names = {f.name for f in dataclasses.fields(TrainerSettings)}
    saved = {k: v for k, v in state["settings"].items() if k in names}
    s = dataclasses.replace(TrainerSettings(**saved), num_envs=num_envs)
    if s.env_id not in known_env_ids():
        raise EvalError(f"the checkpoint's game {s.game!r} is not one this trainer knows")
    return s


def device_of(name: str) -> torch.device:
    """The torch device asked for; EvalError when it is not here."""
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise EvalError(f"--device {name!r}: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EvalError(f"--device {name}: CUDA is not available here")
    return device


def policy(state: dict[str, Any], vec_env: Any, device: torch.device) -> ActorCritic:
    """The checkpoint's network, ready to act."""
    model = ActorCritic(envs.obs_shape(vec_env), envs.num_actions(vec_env))
    model.load_state_dict(state["model"])
    return model.to(device).eval()


def evaluate(opts: EvalOptions, sinks: Sequence[FrameSink] = ()) -> dict[str, Any]:
    """Play opts.episodes episodes of the run's policy; the result dict (evaluate.result).
    With sinks (or --record), one env plays every episode and its screen goes to each."""
    started = time.monotonic()
    torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed)
    path, state = load(opts.run_dir, opts.checkpoint)
    s = settings_of(state, 1)
    video = None
    if opts.watch_fps > 0:
        sinks = [*sinks, FrameStream(opts.watch_fps)]
    if opts.record is not None:
        video = VideoSink(opts.record, ATARI_FPS if s.is_atari else CLASSIC_FPS)
        sinks = [*sinks, video]
    if not sinks:
        s = dataclasses.replace(s, num_envs=min(opts.episodes, MAX_ENVS))
    if opts.policy == "auto":
        opts = dataclasses.replace(opts, policy="sampled" if s.is_atari else "greedy")
    device = device_of(opts.device)
    # envpool's own worker threads: as many as the evaluator's torch threads.
    options: dict[str, Any] = {"num_threads": min(opts.threads, s.num_envs)}
    if opts.max_steps:
        options["max_episode_steps"] = opts.max_steps  # envpool truncates and resets
    vec_env = envs.make_envs(s, opts.seed, **options)
    screen = Screen(s, opts.seed, **options) if sinks else None
    player = Player(vec_env, policy(state, vec_env, device), device, screen, sinks)
    try:
        played = player.play(s, opts)
    except BaseException:
        if video is not None:
            video.abandon()
        raise
    r = eval_result(s.game, opts, (path, state), played, time.monotonic() - started)
    if video is not None:
        _finish(video, r)
    return r


def _finish(video: VideoSink, r: dict[str, Any]) -> None:
    """Write the video with the scores as its metadata; name it and its frames in r."""
    scores = ", ".join(f"{x:g}" for x in r["scores"])
    video.finish(
        title=f"{r['game']} {r['checkpoint']} (step {r['global_step']}): mean {r['mean']:g}",
        comment=f"{r['episodes']} episodes, {r['policy']} actions; scores {scores}",
    )
    r["video"], r["frames"] = str(video.path), video.frames


@dataclasses.dataclass
class Player:
    """The envs, the policy acting in them, and where env 0's screen goes."""

    vec_env: Any
    model: ActorCritic
    device: torch.device
    screen: Screen | None
    sinks: Sequence[FrameSink]

    def play(self, s: TrainerSettings, opts: EvalOptions) -> Played:
        """Step every env until each has played its share of the episodes."""
        left = np.array(quotas(opts.episodes, s.num_envs))
        tracker, played = envs.EpisodeTracker(s.num_envs, s.is_atari), Played()
        obs, _ = self.vec_env.reset()
        if self.screen is not None:
            self.show(self.screen.reset(obs))
        while left.any():
            action = act(self.model, torch.from_numpy(obs).to(self.device), opts.policy == "greedy")
            obs, reward, term, trunc, info = self.vec_env.step(action)
            if self.screen is not None:
                self.show(self.screen.step(action, obs))
            finished = tracker.step(reward, term, trunc, info)
            for i, (score, length) in zip(tracker.done_idx, finished, strict=True):
                if left[i] == 0:
                    continue  # this env has played its share; its extra games do not count
                left[i] -= 1
                played.scores.append(score)
                played.lengths.append(length)
                played.capped += bool(opts.max_steps and trunc[i] and length >= opts.max_steps)
                for sink in self.sinks:
                    sink.episode_end(score, length)
        return played

    def show(self, rgb: Frame) -> None:
        """Hand one frame to every sink."""
        for sink in self.sinks:
            sink.frame(rgb)


def act(model: ActorCritic, obs: torch.Tensor, greedy: bool) -> npt.NDArray[np.int64]:
    """One action per env: sampled from the policy, or its most likely one."""
    with torch.inference_mode():
        if greedy:
            logits = model.actor(model.features(obs))
            return logits.argmax(dim=-1).cpu().numpy()  # type: ignore[no-any-return]
        action = model.act(obs)[0]
        return action.cpu().numpy()
