"""Run the trainer's evaluator as a process and read its result.

The evaluator is the trainer package's plain program (controlroom/trainer/evaluate.py);
the agent knows it only by its module name and its --json output, as it knows the trainer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

import msgspec

from controlroom import protocol
from controlroom.agent.errors import OpError

log = logging.getLogger(__name__)
EVALUATOR_MODULE = "controlroom.trainer.evaluate"
# An evaluation that runs longer than this is ended: 100 Atari games at the slowest are
# well inside it, a hung one is not left holding a slot.
MAX_EVAL_S = 3600.0
NICE = 10  # below the trainers (niceness 0): an evaluation takes only what they leave
THREADS = 1


def has_checkpoint(run_dir: Path) -> bool:
    """Whether a trainer wrote any checkpoint in this run dir."""
    return any((run_dir / "checkpoints").glob("ckpt-*.pt"))


def evaluator_argv(run_dir: Path, args: protocol.Evaluate, *extra: str) -> list[str]:
    """The evaluator's command line: this interpreter, the module, no shell."""
    return [
        sys.executable,
        "-W",
        "ignore",
        "-m",
        EVALUATOR_MODULE,
        "--run-dir",
        str(run_dir),
        "--episodes",
        str(args.episodes),
        "--checkpoint",
        args.checkpoint,
        "--device",
        args.device,
        "--threads",
        str(THREADS),
        "--nice",
        str(NICE),
        "--json",
        *extra,
    ]


def evaluator_env(device: str) -> dict[str, str]:
    """The agent's environment; on the CPU with no GPU visible, so torch makes no CUDA
    context (hundreds of MiB of a trainer's GPU) even by accident."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


async def start_evaluator(argv: list[str], device: str) -> asyncio.subprocess.Process:
    """Start the evaluator, its stdout and stderr piped to the agent, in its own session."""
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=evaluator_env(device),
        start_new_session=True,
        limit=protocol.MAX_LINE_BYTES,  # a frame line of a busy screen is ~10-100 KB
    )


async def run_evaluator(argv: list[str], device: str, timeout: float = MAX_EVAL_S) -> bytes:
    """Run the evaluator to its end; its stdout. OpError with its last stderr line when
    it fails, or when it runs past `timeout` (then it is killed). Cancelled (the agent
    stopping, the client gone), it is killed too: no evaluator outlives its request."""
    proc = await start_evaluator(argv, device)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        raise OpError(
            "internal", f"the evaluation ran past {timeout:.0f} s and was ended"
        ) from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    rc = await proc.wait()
    if rc != 0:
        raise OpError(_code(rc), last_line(err) or f"exit {rc}")
    return out


def _code(returncode: int) -> str:
    return "invalid" if returncode == 2 else "internal"


def last_line(err: bytes) -> str:
    """The evaluator's one-line error, without its prefix."""
    lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1].removeprefix("controlroom.trainer.evaluate: error: ") if lines else ""


def read_result(out: bytes) -> protocol.Evaluation:
    """The evaluator's --json line as the protocol's Evaluation."""
    try:
        return msgspec.json.decode(out.strip().splitlines()[-1], type=protocol.Evaluation)
    except (msgspec.DecodeError, msgspec.ValidationError, IndexError) as exc:
        raise OpError("internal", f"the evaluator's output is not a result: {exc}") from None
