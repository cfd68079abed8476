"""Plain-text views of agent data for the host CLI."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from controlroom import protocol
from controlroom.config import Settings
from controlroom.span import describe


def status_text(state: protocol.State) -> str:
    """Host line, GPU lines, then one line per game."""
    host, system = state.host, state.system
    lines = [
        f"{host.hostname}  up {span(host.uptime_s)}  "
        f"reboots 24h: {host.reboots_24h}  agent {host.agent_version}  "
        f"cpu {system.cpu_percent or 0:.0f}%  "
        f"ram {gib(system.ram_used or 0)}/{gib(system.ram_total or 0)}"
    ]
    for gpu in state.gpus:
        lines.append(
            f"GPU{gpu.index} {gpu.name}: {gpu.utilization:.0f}%  "
            f"{gib(gpu.memory_used)}/{gib(gpu.memory_total)}  "
            f"{gpu.temperature_c:.0f}C  {gpu.power_w:.0f}W"
        )
    if not state.gpus:
        lines.append(f"GPU: none ({state.gpu_error or 'none found'})")
    lines.append(_game_header())
    for g in state.games.values():
        lines.append(_game_line(g))
        if g.span is not None:
            lines.append(f"  {span_text(g.span)}")
        lines += [f"  looks wrong: {d.message}" for d in g.diagnosis]
    lines += policy_text(state.policy)
    return "\n".join(lines)


def _game_header() -> str:
    return (
        f"{'GAME':<14} {'STATE':<10} {'PID':>7} {'ENVS':>5} {'MB':>5} "
        f"{'EPISODES':>15} {'EPS/H':>7} {'RETURN':>8} {'RESTARTS':>8} {'THREADS':>7} "
        f"{'GPU':>7}  CHECKPOINT"
    )


def gpus_text(g: protocol.GameState) -> str:
    """The GPUs a game runs on ("3", "1,5"), "cpu" when placed on none, "-" while none is
    running; a trailing * when pinned by its settings."""
    gpus = g.gpus
    pinned = "*" if isinstance(g.settings.get("gpus"), list) else ""
    if gpus:
        return ",".join(map(str, gpus)) + pinned
    return "cpu" if g.pid else "-"


def placed_text(g: protocol.GameState) -> str:
    """For a game placed on GPUs ', GPU 3' (or ', GPUs 1,5'), and its part of a job over
    several hosts (', job 2 nodes · node 1/2 · rank 1'), else nothing."""
    gpus, span = g.gpus, g.span
    placed = f", GPU{'s' if len(gpus) > 1 else ''} {','.join(map(str, gpus))}" if gpus else ""
    if span is None:
        return placed
    return f"{placed}, {describe(span.nodes, span.node_rank, span.ranks)}"


def span_text(span: protocol.JobSpan) -> str:
    """This host's part of a job over several hosts, with what every node must name."""
    return (
        f"{describe(span.nodes, span.node_rank, span.ranks)} · world {span.world_size} · "
        f"rendezvous {span.rendezvous} · job id {span.job_id}"
    )


def _game_line(g: protocol.GameState) -> str:
    m, s, ck = g.metrics or {}, g.settings, g.checkpoint  # metrics: the trainer's own line
    episodes = f"{int(m.get('episodes', 0))}/{g.target_episodes}"
    ret = f"{m['return_mean']:.1f}" if "return_mean" in m else "-"
    ckpt = f"step {ck.global_step} ({ago(ck.time)})" if ck else "-"
    return (
        f"{g.game:<14} {g.state:<10} {g.pid or '-':>7} "
        f"{s.get('num_envs', '-'):>5} {s.get('minibatch_size', '-'):>5} {episodes:>15} "
        f"{m.get('episodes_per_hour', 0):>7.0f} {ret:>8} {g.restarts:>8} "
        f"{g.threads.label if g.threads else '-':>7} {gpus_text(g):>7}  {ckpt}"
    )


def boots_text(boots: list[protocol.Boot]) -> str:
    """One line per boot: when, how long up, downtime before it, load at the end."""
    lines = [f"{'BOOT':<10} {'BOOTED':<20} {'UP':>9} {'DOWN BEFORE':>12}  LOAD AT LAST HEARTBEAT"]
    for b in boots:
        down = span(b.downtime_before_s) if b.downtime_before_s is not None else "-"
        load = b.load
        shown = (
            (
                f"{load.games or 0} games, {load.trainers or 0} trainers, "
                f"{gib(load.gpu_memory_used or 0)} GPU"
            )
            if load != protocol.Load()
            else "-"
        )
        lines.append(
            f"{b.boot_id[:8]:<10} {when(b.boot_time):<20} {span(b.uptime_s):>9} {down:>12}  {shown}"
        )
    return "\n".join(lines)


def event_text(e: protocol.Event) -> str:
    """One event line."""
    game = f" [{e.game}]" if e.game else ""
    return f"{when(e.ts)} {e.kind:<15}{game} {e.message}"


def span(seconds: float) -> str:
    """3h04m, 5m10s."""
    minutes, secs = divmod(int(seconds or 0), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def gib(n: float) -> str:
    """Bytes as GiB with one decimal."""
    return f"{(n or 0) / 2**30:.1f}G"


def when(ts: float) -> str:
    """Local date and time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def ago(ts: float) -> str:
    """'42s ago'."""
    return f"{span(time.time() - ts)} ago"


# ---- policies ----------------------------------------------------------------------
def policy_text(policy: protocol.PolicyState) -> list[str]:
    """The policy block of `status`: profile, ramp, guard, queue, trials."""
    if not policy.engine:
        return ["policy: off (no policy engine in this agent)"]
    lines = [f"profile: {policy.profile or '-'}"]
    if policy.ramp is not None:
        lines.append(ramp_text(policy.ramp))
    if policy.guard is not None:
        lines += guard_text(policy.guard)
    lines.append(queue_text(policy.queue or protocol.QueueView()))
    lines += [trial_text(t) for t in policy.trials.values()]
    return lines


def ramp_text(r: protocol.RampView) -> str:
    """'ramp: waiting, step 1/3 (MsPacman, Pong), ceiling none; next: add X at T (in 3m)'."""
    state = "off" if not r.enabled else r.phase + (f" ({r.hold})" if r.hold else "")
    ceiling = "none" if r.ceiling is None else f"step {r.ceiling} ({r.ceiling_games} games)"
    text = (
        f"ramp: {state}, step {r.step}/{max(0, r.steps - 1)} "
        f"({', '.join(r.games) or 'no games'}), ceiling {ceiling}"
    )
    if r.next_action and r.next_action_at:
        left = max(0.0, r.next_action_at - time.time())
        text += f"; next: {r.next_action} at {clock(r.next_action_at)} (in {span(left)})"
    return text


def _worst(load: protocol.GuardLoad, figure: Callable[[protocol.GpuLoad], float | None]) -> str:
    """The label of the GPU with the highest `figure` on a host of several ('GPU4 '; the
    budgets hold per GPU, so the worst one is the one that counts), else 'GPU '."""
    known = [(value, d.index) for d in load.gpus if (value := figure(d)) is not None]
    if len(known) < 2:
        return "GPU "
    return f"GPU{max(known, key=lambda pair: pair[0])[1]} "


def guard_text(g: protocol.GuardView) -> list[str]:
    """Each budget against the load now; the breach, paused games, last refusal."""
    b, load = g.budgets, g.load
    temp = load.gpu_temp_c
    parts = [
        f"envs {load.envs}/{b.max_total_envs}",
        f"trainers {load.trainers}/{b.max_trainers}",
        f"{_worst(load, lambda d: d.memory_fraction)}mem {pct(load.gpu_memory_fraction)}"
        f"/{pct(b.max_gpu_memory_fraction)}",
        f"{_worst(load, lambda d: d.temp_c)}temp {'-' if temp is None else f'{temp:.0f}C'}"
        f"/{num(b.max_gpu_temp_c)}C",
        f"RAM {pct(load.ram_fraction)}/{pct(b.max_host_ram_fraction)}",
    ]
    lines = ["guard: " + "  ".join(parts)]
    if g.breach:
        lines.append(f"guard: over a limit: {g.breach}")
    if g.paused:
        lines.append(f"guard: paused {', '.join(g.paused)}")
    if g.last_refusal:
        lines.append(f"guard: last refusal: {g.last_refusal}")
    return lines


def queue_text(q: protocol.QueueView) -> str:
    """'queue: Asteroids, Freeway (1 free slot)'."""
    waiting, free = q.waiting, q.free_slots
    return f"queue: {', '.join(waiting) or 'empty'} ({free} free slot{'' if free == 1 else 's'})"


def trial_text(t: protocol.AnyTrial) -> str:
    """One trial: running until when, or its comparison."""
    kind = "beside trial" if isinstance(t, protocol.BesideTrial) else "trial"
    if t.status == "running":
        return f"{kind} {t.game}: running until {clock(t.ends_at)}"
    rows = {r.figure: r for r in t.comparison or []}
    eph, sps = rows.get("episodes_per_hour"), rows.get("sps")
    outcome = t.outcome or ""
    return (
        f"{kind} {t.game}: {t.status}; episodes/h {_side(eph, 'current')} -> "
        f"{_side(eph, 'trial')}, steps/s {_side(sps, 'current')} -> "
        f"{_side(sps, 'trial')}; {outcome}"
    ).rstrip("; ")


def _side(row: protocol.ComparisonRow | None, side: str) -> str:
    """One side of a compared figure ('?' when not measured)."""
    value = None if row is None else getattr(row, side)
    return "?" if isinstance(value, protocol.Shape) else num(value)


def profile_text(result: protocol.ProfilePlan) -> str:
    """An apply_profile result: the actions, then the guard's verdict."""
    dry = " (dry run: nothing changed)" if result.dry_run else ""
    lines = [f"profile {result.profile}{dry}: {result.total_envs} envs in all"]
    lines += [f"  {a.text}" for a in result.actions]
    verdict = result.verdict
    lines.append(f"guard: {verdict}" if verdict else "guard: allowed")
    if not result.dry_run and not verdict:
        lines.append(f"applied profile {result.profile} (the ramp is off)")
    return "\n".join(lines)


def shape_text(s: Settings) -> str:
    """'32 envs x 128 steps, minibatch 512'."""
    return (
        f"{s.get('num_envs')} envs x {s.get('num_steps')} steps, "
        f"minibatch {s.get('minibatch_size')}"
    )


def plan_text(p: protocol.Plan) -> str:
    """The plan: per game, the host in parallel and with the queue, then the profiles."""
    host = p.host
    lines = [f"{'GAME':<14} {'EPISODES':>15} {'EPS/H':>8} {'TO TARGET':>10}"]
    for g in host.games:
        eph = g.episodes_per_hour
        rate = "-" if not eph else ("~" if g.estimated else "") + f"{eph:.0f}"
        lines.append(
            f"{g.game:<14} {g.episodes:>7}/{g.target:<7} {rate:>8} "
            f"{hours(g.hours_to_target):>10}" + ("  queued" if g.queued else "")
        )
    lines += [
        "",
        f"host at ${host.price_per_hour:g}/h, downtime {pct(p.downtime_share)} "
        f"over {p.boots} boots:",
        "  every game at once: " + costed(host.parallel),
        "  with the queue:     " + costed(host.with_queue),
        "",
    ]
    lines += profiles_table(p.profiles)
    lines.append("~ = estimated from the other games' rate; DOWN - = no boot ran that many games")
    return "\n".join(lines)


def profiles_table(rows: list[protocol.ProfileRow]) -> list[str]:
    """The log's comparison table, measured."""
    out = [
        f"{'PROFILE':<10} {'GAMES':>5} {'ENVS':>5} {'MB':>5} {'MEASURED':>8} {'EPS/H':>8} "
        f"{'DAYS':>6} {'COST':>8} {'DOWN':>5} {'EFF DAYS':>8} {'EFF COST':>9}"
    ]
    for r in rows:
        down = pct(r.downtime_share) if r.downtime_measured else "-"
        eph = f"{r.episodes_per_hour:.0f}" if r.episodes_per_hour else "-"
        out.append(
            f"{r.profile:<10} {r.games:>5} {r.num_envs:>5} "
            f"{r.minibatch_size:>5} {r.measured_games:>4}/{r.games:<3} "
            f"{eph:>8} {fixed(r.days):>6} {money(r.cost):>8} {down:>5} "
            f"{fixed(r.effective_days):>8} {money(r.effective_cost):>9}"
        )
    return out


def costed(c: protocol.Costing | None) -> str:
    """'3.2d, $154; with 17% downtime 3.9d, $185'."""
    if c is None:
        return "unknown (a rate is not measured yet)"
    return (
        f"{hours(c.hours)}, {money(c.cost)}; with {pct(c.downtime_share)} "
        f"downtime {hours(c.effective_days * 24)}, {money(c.effective_cost)}"
    )


def hours(h: float | None) -> str:
    """A time to target: '42m', '5.2h', '4.1d', '-' when unknown."""
    if h is None:
        return "-"
    if h < 1:
        return f"{h * 60:.0f}m"
    return f"{h:.1f}h" if h < 48 else f"{h / 24:.1f}d"


def pct(x: float | None) -> str:
    """A share as a percentage, '-' when unknown."""
    return "-" if x is None else f"{x * 100:.0f}%"


def money(x: float | None) -> str:
    """Dollars, '-' when unknown."""
    return "-" if x is None else f"${x:,.0f}"


def fixed(x: float | None) -> str:
    """One decimal, '-' when unknown."""
    return "-" if x is None else f"{x:.1f}"


def num(x: Any) -> str:
    """A figure, '?' when missing."""
    return "?" if x is None else f"{x:.0f}" if isinstance(x, float) else str(x)


def clock(ts: float) -> str:
    """Local time of day."""
    return time.strftime("%H:%M:%S", time.localtime(ts))
