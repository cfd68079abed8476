"""Why a trainer ended, as its run dir tells: its exit line, its last words in trainer.log.

The supervisor's state machine (supervisor.py) asks these when a trainer exits: did it
refuse its settings (exit 2, or a job's rank that did), did it finish its budget, or was
it stopped by a signal. They read the run's files and the GameRun, and change nothing.
"""

from __future__ import annotations

from controlroom.agent.supervision.gamerun import GameRun
from controlroom.agent.supervision.job import rank_exit_reason, rank_refusal
from controlroom.agent.supervision.runfiles import LOG_FILE

USAGE_EXIT = 2  # argparse's code for bad arguments: restarting cannot fix it
LOG_LINE_CHARS = 300


def refusal(g: GameRun, code: int | None) -> str | None:
    """The trainer's last words when it refused its settings (exit 2), else None. A
    job's rank exits 2 but torchrun exits 1, so trainer.log tells for a job."""
    if code == USAGE_EXIT:
        return last_log_line(g)
    if code is not None and g.under_torchrun:
        return rank_refusal(log_tail(g))
    return None


def last_log_line(g: GameRun) -> str:
    """The last non-empty line the trainer wrote to trainer.log in this run."""
    lines = [x.strip() for x in log_tail(g, 8192).splitlines() if x.strip()]
    return lines[-1][:LOG_LINE_CHARS] if lines else ""


def log_tail(g: GameRun, most: int = 32768) -> str:
    """The end of what the trainer wrote to trainer.log in this run (at most `most`
    bytes: a job's torchrun adds a report of a few KiB after the ranks' lines)."""
    if g.log_offset is None:
        return ""
    try:
        with open(g.run_dir / LOG_FILE, "rb") as fh:
            fh.seek(max(g.log_offset, fh.seek(0, 2) - most))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def exit_reason(g: GameRun) -> str | None:
    """Why the trainer ended, as it said: its metrics' exit line, or for a part of a job
    over several hosts without metrics, its ranks' last words in trainer.log (a job
    stopped on node 0 ends node 1's part with exit 0 too: a signal, not a target)."""
    if g.writes_metrics or not g.builtin:
        return g.tail.last_exit_reason
    return rank_exit_reason(log_tail(g))


def finished(code: int | None, g: GameRun) -> bool:
    """Whether the trainer ended its run (its budget met), not crashed or stopped."""
    reason = exit_reason(g)
    if code is None:  # adopted: only its own exit line can say it finished
        return reason == "budget"
    return code == 0 and reason != "signal"
