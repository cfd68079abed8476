"""Checkpoints outlive code renames: the payload holds state_dicts and plain values only,
never one of controlroom's classes pickled by name, and the network's layer names (the keys
of `model`) are pinned, since those are what an old checkpoint must still match."""

from __future__ import annotations

import contextlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from controlroom.trainer import checkpoint
from controlroom.trainer.model import ActorCritic

# The layout every checkpoint written so far carries (the class was called `Agent` then).
PIXEL_KEYS = {
    "torso.0.weight": (32, 4, 8, 8),
    "torso.0.bias": (32,),
    "torso.2.weight": (64, 32, 4, 4),
    "torso.2.bias": (64,),
    "torso.4.weight": (64, 64, 3, 3),
    "torso.4.bias": (64,),
    "torso.7.weight": (512, 3136),
    "torso.7.bias": (512,),
    "actor.weight": (6, 512),
    "actor.bias": (6,),
    "critic.weight": (1, 512),
    "critic.bias": (1,),
}
VECTOR_KEYS = {
    "actor.0.0.weight": (64, 4),
    "actor.0.0.bias": (64,),
    "actor.0.2.weight": (64, 64),
    "actor.0.2.bias": (64,),
    "actor.1.weight": (2, 64),
    "actor.1.bias": (2,),
    "critic.0.0.weight": (64, 4),
    "critic.0.0.bias": (64,),
    "critic.0.2.weight": (64, 64),
    "critic.0.2.bias": (64,),
    "critic.1.weight": (1, 64),
    "critic.1.bias": (1,),
}


class _GlobalsSeen(pickle.Unpickler):
    """Unpickles torch.save's data.pkl, recording every class or function it names."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.seen: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.seen.add((module, name))
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return None  # tensor storages live beside data.pkl; their bytes do not matter here


def _pickled_globals(payload: bytes) -> set[tuple[str, str]]:
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        [pkl] = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        unpickler = _GlobalsSeen(archive.read(pkl))
    # Rebuilding tensors from None storages fails, but only after every name was looked up.
    with contextlib.suppress(Exception):
        unpickler.load()
    return unpickler.seen


def _payload(path: Path) -> bytes:
    head = len(checkpoint.MAGIC) + 64 + 1
    return path.read_bytes()[head:]


def test_checkpoint_pickles_no_controlroom_class(pong32: Path) -> None:
    [newest, *_] = checkpoint.list_checkpoints(pong32)
    names = _pickled_globals(_payload(newest))
    assert names, "the probe saw no global at all: it is not reading the pickle"
    ours = sorted(f"{m}.{n}" for m, n in names if m.split(".")[0] == "controlroom")
    assert ours == []
    assert {m.split(".")[0] for m, _ in names} <= {
        "torch",
        "collections",
        "builtins",
        "_codecs",
        "numpy",
    }


def test_checkpoint_model_matches_the_pinned_layer_names(pong32: Path) -> None:
    [newest, *_] = checkpoint.list_checkpoints(pong32)
    state = checkpoint.decode(newest.read_bytes())
    assert {k: tuple(v.shape) for k, v in state["model"].items()} == PIXEL_KEYS
    ActorCritic((4, 84, 84), 6).load_state_dict(state["model"], strict=True)


def test_network_layer_names_are_unchanged() -> None:
    for shape, actions, keys in (((4, 84, 84), 6, PIXEL_KEYS), ((4,), 2, VECTOR_KEYS)):
        model = ActorCritic(shape, actions)
        assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == keys
        old = {k: torch.zeros(s) for k, s in keys.items()}
        model.load_state_dict(old, strict=True)
