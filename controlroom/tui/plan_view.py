"""The plan op's result (docs/policies.md, Plan) as three tables: per game, the host, and
the profile comparison (the log's cost table, measured). Pure: State in, Rich out."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from controlroom.tui.format import count, duration, gib

UNKNOWN = "-"


def _table(title: str) -> Table:
    """A plan table: its title says what one row covers; light borders leave the columns
    their room in a 100-column dialog."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
        title_style="bold",
    )


def _column(table: Table, name: str, *, left: bool = False) -> None:
    table.add_column(name, justify="left" if left else "right", no_wrap=True)


def hours(h: float | None) -> str:
    """Hours as a duration (`3h 04m`, `2d 5h`); `-` when no rate is known."""
    return UNKNOWN if h is None else duration(h * 3600)


def days(d: float | None) -> str:
    return UNKNOWN if d is None else f"{d:.1f} d"


def dollars(x: float | None) -> str:
    return UNKNOWN if x is None else f"${x:,.0f}" if x >= 100 else f"${x:,.2f}"


def share(x: float | None, measured: bool = True) -> str:
    """A downtime share as a percentage; `~` when it was not measured at that load."""
    if x is None:
        return UNKNOWN
    return f"{x * 100:.1f}%" if measured else f"~{x * 100:.1f}%"


def games_table(host: dict[str, Any]) -> Table:
    """Per game: progress, the measured rate (`~` borrowed) and the time to target."""
    table = _table("Per game: each row is one game on this host, at its measured episodes/hour")
    for col in ("game", "episodes", "target", "done", "episodes/h", "to target", ""):
        _column(table, col, left=col in ("game", ""))
    for g in host.get("games") or []:
        target = g.get("target") or 0
        done = (g.get("episodes") or 0) / target if target else 0.0
        rate = count(g.get("episodes_per_hour"))
        table.add_row(
            str(g.get("game")),
            count(g.get("episodes")),
            count(target),
            f"{done * 100:.1f}%",
            ("~" if g.get("estimated") else "") + rate,
            hours(g.get("hours_to_target")),
            "queued" if g.get("queued") else "",
        )
    return table


def host_table(host: dict[str, Any]) -> Table:
    """Every game at once, and with the queue: days, cost, downtime, effective figures."""
    price = host.get("price_per_hour")
    rows = host.get("games") or []
    n, active = len(rows), sum(1 for g in rows if not g.get("queued"))
    names = ", ".join(str(g.get("game")) for g in rows) or "no games"
    title = (
        f"This host: its {n} game{'' if n == 1 else 's'} ({names}) to target, at "
        f"${price or 0:,.2f}/hour, downtime from its boot history"
    )
    table = _table(title)
    for col in ("schedule", "time", "days", "cost", "downtime", "eff. days", "eff. cost"):
        _column(table, col, left=col == "schedule")
    schedules = (
        (f"every game in parallel ({n} at once)", "parallel"),
        (f"with the queue ({active} at a time)", "with_queue"),
    )
    for label, key in schedules:
        c = host.get(key)
        if not c:
            table.add_row(
                label,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                share(host.get("downtime_share")),
                UNKNOWN,
                Text("no rate measured yet", style="dim"),
            )
            continue
        table.add_row(
            label,
            hours(c.get("hours")),
            days(c.get("days")),
            dollars(c.get("cost")),
            share(c.get("downtime_share")),
            days(c.get("effective_days")),
            Text(dollars(c.get("effective_cost")), style="bold"),
        )
    return table


def profiles_table(profiles: list[dict[str, Any]]) -> Table:
    """The log's comparison, measured: each profile doing all the work."""
    table = _table(
        "Profiles: each row is ALL the work (this host's games and every game a "
        "profile runs), done in turn, `at once` games at a time at the profile's "
        "settings; so not comparable with the host's rows above"
    )
    for col in (
        "profile",
        "at once",
        "envs",
        "batch",
        "rated",
        "eps/h",
        "GPU mem",
        "days",
        "cost",
        "down",
        "eff. days",
        "eff. cost",
    ):
        _column(table, col, left=col == "profile")
    for p in profiles:
        games = p.get("games") or 0
        table.add_row(
            str(p.get("profile")),
            str(games),
            str(p.get("num_envs", UNKNOWN)),
            str(p.get("minibatch_size", UNKNOWN)),
            f"{p.get('measured_games', 0)}/{games}",
            count(p.get("episodes_per_hour")),
            _mem(p.get("gpu_memory_used")),
            days(p.get("days")),
            dollars(p.get("cost")),
            share(p.get("downtime_share"), bool(p.get("downtime_measured"))),
            days(p.get("effective_days")),
            Text(dollars(p.get("effective_cost")), style="bold"),
        )
    return table


def _mem(n: float | None) -> str:
    return UNKNOWN if n is None else gib(n)


def render_plan(plan: dict[str, Any]) -> Group:
    """The whole plan, tables and a line on where the downtime figure comes from."""
    host = plan.get("host") or {}
    boots = plan.get("boots") or 0
    note = Text(
        f"downtime share {share(plan.get('downtime_share'))} over {boots} recorded "
        "boots; eff. = effective = cost / (1 - downtime share); rated = games with a "
        "measured rate at those settings; ~ = borrowed rate or downtime not measured "
        "at that load; - = nothing measured yet",
        style="dim",
    )
    return Group(
        games_table(host),
        Text(""),
        host_table(host),
        Text(""),
        profiles_table(plan.get("profiles") or []),
        Text(""),
        note,
    )
