"""A game that is one host's part of a job over several hosts, and what the agent says
when it leaves such a part alone.

Every node of such a job must run the same settings: a part changed on one host alone
makes the whole job refuse to start (its ranks compare their settings when they meet).
So whatever would change one part by itself (`agent scale`, a migration, an `instead`
trial, a profile, the ramp) asks `part_of_job` first, and refuses or skips it with the
words below: the change belongs on every node at once, from the laptop.
"""

from __future__ import annotations

from controlroom.protocol import GameState, JobSpan
from controlroom.span import Span

__all__ = ["part_of_job", "part_text", "refusal", "rollback_refusal", "scale_refusal", "skipped"]


def part_of_job(st: GameState) -> JobSpan | None:
    """This host's part of the game's job when the job spans several hosts, else None:
    the one test of "spans hosts" for everything that changes a game on this host.
    GameState.span is set only for such a job (GameRun.job_span, Span.spans)."""
    return st.span


def part_text(game: str, span: JobSpan) -> str:
    """ "Pong is node 1 of job pong-2 over 2 hosts"."""
    return f"{game} is node {span.node_rank} of job {span.job_id} over {span.nodes} hosts"


def skipped(game: str, span: JobSpan | Span) -> str:
    """A plan's line for a part it leaves alone: "Pong: part of a job over 2 hosts
    (node 1 of job pong-2); change it from the laptop"."""
    return (
        f"{game}: part of a job over {span.nodes} hosts (node {span.node_rank} of job "
        f"{span.job_id}); change it from the laptop"
    )


def refusal(game: str, span: JobSpan, what: str) -> str:
    """Why `what` (e.g. "a migration") is refused for a part: it would change this node
    alone, and every node must run the same settings. Nothing is changed."""
    return (
        f"{part_text(game, span)}, and every node must run the same settings: {what} "
        f"would change this node alone, so nothing changed. Change the job from the laptop "
        f"linked to all of its hosts (+/- and g there change each part), or on each host "
        f"with `controlroom agent scale {game} --num-envs N --this-node`, node 1.. first "
        f"and node 0 last"
    )


def scale_refusal(game: str, span: JobSpan, num_envs: int) -> str:
    """Why `agent scale` (without --this-node) leaves a part alone."""
    return (
        f"{part_text(game, span)}, and every node must run the same num_envs: nothing "
        f"changed. Scale every node from the laptop linked to all of them (+/- there "
        f"changes each part), or on each host with `controlroom agent scale {game} "
        f"--num-envs {num_envs} --this-node`, node 1.. first and node 0 last"
    )


def rollback_refusal(game: str, span: JobSpan | Span) -> str:
    """Why `rollback` leaves a part of a job (or a snapshot of one) alone: the job's
    checkpoints are node 0's and its settings every node's, and this agent can restore
    this host only (agents do not reach each other; the laptop links to each). Nothing
    is changed."""
    return (
        f"{game} is node {span.node_rank} of job {span.job_id} over {span.nodes} hosts: a "
        f"rollback here would restore this host alone and leave the job's other nodes on "
        f"other settings, so nothing changed. To roll the job back: make {game} a game of "
        f"one host again (on node 0 `controlroom agent add {game} --nodes 1`, on every "
        f"other node `controlroom agent remove {game}`), run `controlroom agent rollback "
        f"{game}` on node 0, then span it again from the laptop (Span hosts)"
    )
