"""Plain-text views of agent data for the host CLI."""

from __future__ import annotations

import time
from typing import Any


def status_text(state: dict[str, Any]) -> str:
    """Host line, GPU lines, then one line per game."""
    host, system = state.get("host", {}), state.get("system", {})
    lines = [f"{host.get('hostname')}  up {span(host.get('uptime_s', 0))}  "
             f"reboots 24h: {host.get('reboots_24h', 0)}  agent {host.get('agent_version')}  "
             f"cpu {system.get('cpu_percent', 0):.0f}%  "
             f"ram {gib(system.get('ram_used', 0))}/{gib(system.get('ram_total', 0))}"]
    for gpu in state.get("gpus", []):
        lines.append(f"GPU{gpu['index']} {gpu['name']}: {gpu['utilization']:.0f}%  "
                     f"{gib(gpu['memory_used'])}/{gib(gpu['memory_total'])}  "
                     f"{gpu['temperature_c']:.0f}C  {gpu['power_w']:.0f}W")
    if not state.get("gpus"):
        lines.append(f"GPU: none ({state.get('gpu_error') or 'none found'})")
    lines.append(_game_header())
    lines += [_game_line(g) for g in state.get("games", {}).values()]
    return "\n".join(lines)


def _game_header() -> str:
    return (f"{'GAME':<14} {'STATE':<10} {'PID':>7} {'ENVS':>5} {'MB':>5} "
            f"{'EPISODES':>15} {'EPS/H':>7} {'RETURN':>8} {'RESTARTS':>8}  CHECKPOINT")


def _game_line(g: dict[str, Any]) -> str:
    m, s, ck = g.get("metrics") or {}, g.get("settings", {}), g.get("checkpoint")
    episodes = f"{int(m.get('episodes', 0))}/{g.get('target_episodes')}"
    ret = f"{m['return_mean']:.1f}" if "return_mean" in m else "-"
    ckpt = f"step {ck['global_step']} ({ago(ck['time'])})" if ck else "-"
    return (f"{g['game']:<14} {g['state']:<10} {g.get('pid') or '-':>7} "
            f"{s.get('num_envs', '-'):>5} {s.get('minibatch_size', '-'):>5} {episodes:>15} "
            f"{m.get('episodes_per_hour', 0):>7.0f} {ret:>8} {g.get('restarts', 0):>8}  {ckpt}")


def boots_text(boots: list[dict[str, Any]]) -> str:
    """One line per boot: when, how long up, downtime before it, load at the end."""
    lines = [f"{'BOOT':<10} {'BOOTED':<20} {'UP':>9} {'DOWN BEFORE':>12}  LOAD AT LAST HEARTBEAT"]
    for b in boots:
        down = span(b["downtime_before_s"]) if b.get("downtime_before_s") is not None else "-"
        load = b.get("load") or {}
        shown = (f"{load.get('games', 0)} games, {load.get('trainers', 0)} trainers, "
                 f"{gib(load.get('gpu_memory_used', 0))} GPU") if load else "-"
        lines.append(f"{b['boot_id'][:8]:<10} {when(b['boot_time']):<20} "
                     f"{span(b['uptime_s']):>9} {down:>12}  {shown}")
    return "\n".join(lines)


def event_text(e: dict[str, Any]) -> str:
    """One event line."""
    game = f" [{e['game']}]" if e.get("game") else ""
    return f"{when(e['ts'])} {e['kind']:<15}{game} {e['message']}"


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
