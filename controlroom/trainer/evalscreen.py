"""The colour screen of the one env a recording or a watch plays.

The policy sees envpool's 84x84 grey 4-frame stacks. For Atari, envpool also renders the
210x160 colour screen when made with gray_scale=False at that size (stack_num=1); a
second env so made, with the same seed and fed the same actions, plays the very same
game (envpool's ALE is deterministic given seed and actions: repeat_action_probability
is 0 and the no-op starts come from the seed), so its frames are the policy's game in
colour. CartPole has no screen in envpool: its four state numbers are drawn instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from controlroom.trainer import envs
from controlroom.trainer.settings import TrainerSettings

Frame = npt.NDArray[np.uint8]  # H x W x 3 RGB
ATARI_H, ATARI_W = 210, 160
CART_H, CART_W = 120, 240
X_LIMIT = 2.4  # CartPole's track half-width: the episode ends beyond it


class Screen:
    """Colour frames in step with the policy's env 0."""

    def __init__(self, s: TrainerSettings, seed: int, **options: Any) -> None:
        self.atari = s.is_atari
        self.twin: Any = None
        if self.atari:
            one = TrainerSettings(**{**s.to_dict(), "num_envs": 1})
            colour = {"gray_scale": False, "img_height": ATARI_H, "img_width": ATARI_W}
            self.twin = envs.make_envs(one, seed, stack_num=1, **colour, **options)

    def reset(self, obs: npt.NDArray[Any]) -> Frame:
        """The first frame, from the policy env's first observation."""
        if self.twin is None:
            return cartpole(obs[0])
        return chw_to_hwc(self.twin.reset()[0][0])

    def step(self, action: npt.NDArray[np.int64], obs: npt.NDArray[Any]) -> Frame:
        """The frame after env 0's action."""
        if self.twin is None:
            return cartpole(obs[0])
        return chw_to_hwc(self.twin.step(action[:1])[0][0])


def chw_to_hwc(frame: npt.NDArray[np.uint8]) -> Frame:
    """envpool's channels-first frame as the H x W x 3 image encoders take."""
    return np.ascontiguousarray(frame.transpose(1, 2, 0))


def cartpole(state: npt.NDArray[Any]) -> Frame:
    """A CartPole state (x, x', angle, angle') drawn: track, cart and pole."""
    img = np.full((CART_H, CART_W, 3), 255, dtype=np.uint8)
    track_y = CART_H - 30
    img[track_y, :] = (80, 80, 80)
    cx = int((float(state[0]) / X_LIMIT + 1) / 2 * (CART_W - 1))
    cx = min(max(cx, 12), CART_W - 13)
    img[track_y - 10 : track_y, cx - 12 : cx + 12] = (40, 40, 40)
    angle = float(state[2])
    for r in range(60):
        x = int(cx + r * math.sin(angle))
        y = int(track_y - 10 - r * math.cos(angle))
        if 0 <= y < CART_H and x >= 2 and x + 2 < CART_W:
            img[y, x - 2 : x + 2] = (204, 153, 102)
    return img
