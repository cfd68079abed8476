"""The plan op's result (docs/policies.md, Plan) as three tables: per game, the host, and
the profile comparison (the log's cost table, measured). Pure: State in, Rich out."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from controlroom import protocol
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


def games_table(host: protocol.HostPlan) -> Table:
    """Per game: progress, the measured rate (`~` borrowed) and the time to target."""
    table = _table("Per game: each row is one game on this host, at its measured episodes/hour")
    for col in ("game", "episodes", "target", "done", "episodes/h", "to target", ""):
        _column(table, col, left=col in ("game", ""))
    for g in host.games:
        done = g.episodes / g.target if g.target else 0.0
        table.add_row(
            g.game,
            count(g.episodes),
            count(g.target),
            f"{done * 100:.1f}%",
            ("~" if g.estimated else "") + count(g.episodes_per_hour),
            hours(g.hours_to_target),
            "queued" if g.queued else "",
        )
    return table


def host_table(host: protocol.HostPlan) -> Table:
    """Every game at once, and with the queue: days, cost, downtime, effective figures."""
    rows = host.games
    n, active = len(rows), sum(1 for g in rows if not g.queued)
    names = ", ".join(g.game for g in rows) or "no games"
    title = (
        f"This host: its {n} game{'' if n == 1 else 's'} ({names}) to target, at "
        f"${host.price_per_hour:,.2f}/hour, downtime from its boot history"
    )
    table = _table(title)
    for col in ("schedule", "time", "days", "cost", "downtime", "eff. days", "eff. cost"):
        _column(table, col, left=col == "schedule")
    schedules = (
        (f"every game in parallel ({n} at once)", host.parallel),
        (f"with the queue ({active} at a time)", host.with_queue),
    )
    for label, c in schedules:
        if c is None:
            table.add_row(
                label,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                share(host.downtime_share),
                UNKNOWN,
                Text("no rate measured yet", style="dim"),
            )
            continue
        table.add_row(
            label,
            hours(c.hours),
            days(c.days),
            dollars(c.cost),
            share(c.downtime_share),
            days(c.effective_days),
            Text(dollars(c.effective_cost), style="bold"),
        )
    return table


def profiles_table(profiles: list[protocol.ProfileRow]) -> Table:
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
        table.add_row(
            p.profile,
            str(p.games),
            str(p.num_envs),
            str(p.minibatch_size),
            f"{p.measured_games}/{p.games}",
            count(p.episodes_per_hour),
            _mem(p.gpu_memory_used),
            days(p.days),
            dollars(p.cost),
            share(p.downtime_share, p.downtime_measured),
            days(p.effective_days),
            Text(dollars(p.effective_cost), style="bold"),
        )
    return table


def _mem(n: float | None) -> str:
    return UNKNOWN if n is None else gib(n)


def render_plan(plan: protocol.Plan) -> Group:
    """The whole plan, tables and a line on where the downtime figure comes from."""
    host = plan.host
    note = Text(
        f"downtime share {share(plan.downtime_share)} over {plan.boots} recorded "
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
        profiles_table(plan.profiles),
        Text(""),
        note,
    )
