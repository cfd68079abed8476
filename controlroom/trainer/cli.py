"""Command line: parse, validate (exit 2 before any work), resume, train."""

from __future__ import annotations

import fcntl
import logging
import sys
import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from controlroom.trainer.runtime import die_with_parent, keep_freed_memory, passive_openmp
from controlroom.trainer.settings import (
    SettingsError,
    TrainerSettings,
    check_run_dir,
    make_settings,
    parse_overrides,
)
from controlroom.trainer.world import World

if TYPE_CHECKING:  # torch loads only once the settings are good
    from controlroom.trainer.distributed import Local

log = logging.getLogger("controlroom.trainer")
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

Resumed = tuple[Path, dict[str, Any]]


def main(argv: list[str] | None = None) -> int:
    """Train one game, or be one rank of a torchrun job for it; 0 on budget or signal
    (after a final checkpoint), 2 on bad settings."""
    passive_openmp()
    keep_freed_memory()
    quiet_known_warnings()
    try:
        world = World.from_env()
    except ValueError as exc:  # the nodes of a job over several hosts do not match
        return _fail(exc, EXIT_USAGE)
    if world.size > 1:
        die_with_parent()
    who = f"trainer[rank {world.rank}/{world.size}]" if world.size > 1 else "trainer"
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {who} %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        overrides = parse_overrides(argv)
        # Rank 0 owns the run dir (lock, stale temps, the checkpoint to resume from);
        # the other ranks learn which checkpoint from it once the job has joined.
        if world.main:
            settings, resumed, lock = prepare(overrides)
        else:
            settings, resumed, lock = make_settings(overrides), None, None
    except SettingsError as exc:
        return _fail(exc, EXIT_USAGE)
    except ResumeUnavailable as exc:
        return _fail(exc, EXIT_ERROR)
    try:
        return _train(settings, resumed, overrides, world)
    finally:
        if lock is not None:
            lock.close()


def quiet_known_warnings() -> None:
    """envpool's classic-control specs give float64 bounds to float32 observations, and
    gymnasium warns of it at every start: four lines that push the trainer's own words
    out of the log screen's tail and say nothing a user can act on."""
    warnings.filterwarnings(
        "ignore", message=r".*Box (low|high)'s precision lowered", category=UserWarning
    )


class ResumeUnavailable(Exception):
    """--resume found checkpoints it could not read (an I/O error, not bad content): exit 1,
    a crash the agent retries with backoff, rather than train from scratch over them."""


def _fail(exc: Exception, code: int) -> int:
    # One line: the agent shows a trainer's last stderr line as the reason it stopped.
    print(f"controlroom.trainer: error: {' '.join(str(exc).split())}", file=sys.stderr)
    return code


def prepare(overrides: dict[str, Any]) -> tuple[TrainerSettings, Resumed | None, IO[str]]:
    """Settings merged over the checkpoint's when resuming, all checked, run dir locked."""
    settings = make_settings(overrides)
    check_run_dir(settings.run_path)
    lock = _lock_run_dir(settings.run_path)
    try:
        resumed = _find_resume(settings, overrides)
        settings = _merged(settings, resumed, overrides)
        _check_extras(settings)
    except BaseException:
        lock.close()
        raise
    return settings, resumed, lock


def _merged(
    settings: TrainerSettings, resumed: Resumed | None, overrides: dict[str, Any]
) -> TrainerSettings:
    """A resumed run's settings: the checkpoint's, with the command line's on top."""
    if not resumed:
        return settings
    return make_settings({**resumed[1]["settings"], **overrides, "run_dir": settings.run_dir})


def _lock_run_dir(run_dir: Path) -> IO[str]:
    # Two trainers appending to one run would interleave checkpoints and metrics.
    fh = open(run_dir / "trainer.lock", "a")  # noqa: SIM115  # held for the process life
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        fh.close()
        raise SettingsError(f"another trainer holds {run_dir}") from exc
    return fh


def _find_resume(settings: TrainerSettings, overrides: dict[str, Any]) -> Resumed | None:
    from controlroom.trainer import checkpoint

    run_dir = settings.run_path
    checkpoint.remove_stale_temps(run_dir)
    if not settings.resume:
        if checkpoint.list_checkpoints(run_dir):
            raise SettingsError(
                f"{run_dir} already has checkpoints: pass --resume to "
                "continue them, or choose another --run-dir"
            )
        return None
    try:
        found = checkpoint.load_newest_good(run_dir)
    except checkpoint.CheckpointUnreadable as exc:
        raise ResumeUnavailable(str(exc)) from exc
    if found is None:
        # The agent always passes --resume, so a first start lands here too: that is no
        # warning; checkpoints left that none could be loaded from are (condemned ones
        # were said as they were set aside).
        if checkpoint.list_checkpoints(run_dir):
            log.warning("--resume: no usable checkpoint in %s; starting fresh", run_dir)
        else:
            log.info("no checkpoint in %s yet; starting fresh", run_dir)
        return None
    _check_same_game(found, overrides)
    return found


def _check_same_game(found: Resumed, overrides: dict[str, Any]) -> None:
    saved = TrainerSettings(game=found[1]["settings"]["game"]).env_id
    asked = TrainerSettings(game=overrides.get("game", saved)).env_id
    if saved != asked:
        raise SettingsError(f"checkpoint {found[0]} is from {saved}, not {asked}")


def _check_extras(settings: TrainerSettings) -> None:
    import torch

    from controlroom.trainer.metrics import tensorboard_available

    if settings.tensorboard and not tensorboard_available():
        raise SettingsError(
            "--tensorboard needs the tensorboard package (pip install 'controlroom[tensorboard]')"
        )
    if settings.device.startswith("cuda") and not torch.cuda.is_available():
        raise SettingsError(f"--device {settings.device}: CUDA is not available here")


def _train(
    settings: TrainerSettings, resumed: Resumed | None, overrides: dict[str, Any], world: World
) -> int:
    from controlroom.trainer import distributed
    from controlroom.trainer.loop import Trainer, configure_torch, pick_device

    # A job's device (and so its backend) comes from the command line, which every rank
    # reads alike; the agent always passes --device.
    device = distributed.rank_device(world, pick_device(settings.device))
    try:
        sync = distributed.join(world, device, settings.collective_timeout)
    except distributed.NodeRanksClash as exc:  # every rank sees it: the job ends refused
        return _fail(exc, EXIT_USAGE)
    if world.size > 1:
        settings, resumed = _resume_like_rank0(sync, settings, resumed, overrides)
        differ = _out_of_step(sync, settings)
        if differ is not None:  # every rank sees it: the job ends as one, refused
            sync.close()
            return _fail(SettingsError(differ), EXIT_USAGE)
    configure_torch(settings, device, world.rank)
    if resumed:
        log.info("resuming from %s at step %d", resumed[0], resumed[1]["global_step"])
    reason = Trainer(settings, device, resumed, sync).run()
    sync.close()  # only after a clean run: a failing rank just exits, torchrun ends the job
    log.info("exit: %s", reason)
    return EXIT_OK


# Settings that decide how many collectives a rank calls per rollout (minibatches,
# epochs, gradient chunks) or what it trains: ranks differing in one would wait for each
# other forever. The nodes of a job over several hosts each have their own settings.
LOCKSTEP: tuple[str, ...] = ("game", "num_envs", "num_steps", "minibatch_size")
LOCKSTEP += ("update_epochs", "grad_chunk_size", "target_kl")


def _out_of_step(sync: Local, settings: TrainerSettings) -> str | None:
    """Why the job's ranks cannot train together (their LOCKSTEP settings differ), or
    None; every rank gets the same answer."""
    mine = {key: getattr(settings, key) for key in LOCKSTEP}
    ranks = sync.gather([mine])
    if all(theirs == ranks[0] for theirs in ranks):
        return None
    differing = [k for k in LOCKSTEP if len({str(r[k]) for r in ranks}) > 1]
    shown = "; ".join(f"{k}: " + ", ".join(str(r[k]) for r in ranks) for k in differing)
    return (
        f"the job's ranks differ in settings that keep them in step ({shown}, by rank): "
        "every node of a job over several hosts needs the same"
    )


def _resume_like_rank0(
    sync: Local, settings: TrainerSettings, resumed: Resumed | None, overrides: dict[str, Any]
) -> tuple[TrainerSettings, Resumed | None]:
    """Every rank loads the checkpoint rank 0 chose. Its bytes are sent, not its path: a
    rank on another host (or another mount) need not see rank 0's run dir."""
    from controlroom.trainer import checkpoint

    sent = sync.share((str(resumed[0]), resumed[0].read_bytes()) if resumed else None)
    if resumed or sent is None:
        return settings, resumed
    found = (Path(sent[0]), checkpoint.decode(sent[1]))
    return _merged(settings, found, overrides), found
