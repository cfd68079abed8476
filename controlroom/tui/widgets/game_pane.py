"""A pane per game: state, episodes against target, speed, reward, settings, restarts.

One pane is always the selected one (the action keys apply to it): marked from the first
frame, moved by the arrow keys, kept across updates, and handed to a neighbour when its
game goes away. Any number of panes may carry the compare mark (◆ before the title):
the detail screen opens with those games overlaid.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from controlroom import protocol
from controlroom.span import describe
from controlroom.tui.format import bar, count, duration, gib, number, spark
from controlroom.tui.learning import EVAL_COLOR
from controlroom.tui.widgets.quiet import QuietStatic

STATE_LABELS = {
    "starting": "starting",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopped",
    "crashed": "crashed",
    "backoff": "backing off",
    "crash_loop": "crash loop",
    "hung": "hung",
    "paused": "paused (guard)",
    "done": "done",
}
PANE_BAR_W = 12
COMPARE_MARK = "◆"
"""Before the title of a game marked for comparison (the compare key)."""
LIVE_STATES = frozenset({"running"})
"""Only a running trainer has rates that mean something now; any other state shows the
last ones it measured, dimmed and labelled as such."""


class GamePane(QuietStatic, can_focus=True):
    """One game's card; focus selects the game for the action keys."""

    def __init__(self, game: str) -> None:
        super().__init__(id=f"game-{_css_id(game)}", classes="game-pane", markup=False)
        self.game = game
        self.marked = False
        """Marked for comparison: the detail screen overlays it (shown in the title)."""
        self._title = game
        self.show_titles(title=game)
        self._shown_state = ""

    def show(self, g: protocol.GameState, agent_now: float) -> None:
        """Render the GameState as of `agent_now` (for ages)."""
        state = str(g.state)
        if state != self._shown_state:
            self.remove_class(f"-{self._shown_state}")
            self.add_class(f"-{state}")
            self._shown_state = state
        self._title = pane_title(g)
        self.show_titles(title=self.title(), subtitle=_subtitle(g, agent_now))
        self.show_text(render_game(g, agent_now))

    def title(self) -> str:
        """The border title: the game (and its GPUs), after the compare mark if marked."""
        return f"{COMPARE_MARK} {self._title}" if self.marked else self._title

    def mark(self, marked: bool) -> None:
        """Show (or take off) the compare mark."""
        self.marked = marked
        self.show_titles(title=self.title())

    def on_focus(self, _: events.Focus) -> None:
        """A click (or tab) on a pane selects its game."""
        if isinstance(self.parent, GameGrid):
            self.parent.select(self.game)


def _css_id(game: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in game)


def pane_title(g: protocol.GameState) -> str:
    """The game's name and, once placed, its GPUs: "Pong · GPU 3", "Pong · GPUs 1,5",
    "Pong · GPU 0 pinned" (pinned by its `gpus` setting)."""
    if not g.gpus:
        return g.game
    which = f"GPU{'s' if len(g.gpus) > 1 else ''} {','.join(map(str, g.gpus))}"
    pinned = " pinned" if isinstance(g.settings.get("gpus"), list) else ""
    return f"{g.game} · {which}{pinned}"


def _subtitle(g: protocol.GameState, now: float) -> str:
    state = str(g.state)
    label = STATE_LABELS.get(state, state)
    nxt = g.next_restart_at
    if state == "backoff" and nxt:
        label += f" {duration(nxt - now)}"
    if g.diagnosis:  # the reasons are on the detail screen (Enter)
        label += " · ⚠ looks wrong"
    return label if g.wanted or state == "stopped" else f"{label} (unwanted)"


def render_game(g: protocol.GameState, now: float) -> Text:
    m = g.metrics or {}
    episodes, target = m.get("episodes") or 0, g.target_episodes or 0
    frac = episodes / target if target else 0.0
    lines = [
        Text.assemble(
            f"ep {count(episodes)}/{count(target)} ",
            (bar(frac, PANE_BAR_W), "green"),
            f" {frac * 100:.1f}%",
        ),
        rates_line(g),
        Text.assemble(
            f"R100 {number(m.get('return_mean'))} ",
            (spark(g.return_history, 18), "cyan"),
            (f" eval {number(g.last_eval)}" if g.last_eval is not None else "", EVAL_COLOR),
        ),
        Text(span_line(g) or _settings_line(g)),
        Text(_restarts_line(g, now)),
    ]
    return Text("\n").join(lines)


def span_line(g: protocol.GameState) -> str | None:
    """This host's part of a job over several hosts, "job 2 nodes · node 1/2 · ranks
    2-3", in place of the settings line (the detail screen has those); None for a job
    on this host alone."""
    span = g.span
    return describe(span.nodes, span.node_rank, span.ranks) if span is not None else None


def rates_line(g: protocol.GameState) -> Text:
    """Episodes/hour and steps/s while the trainer runs; otherwise the last ones, dimmed."""
    m = g.metrics or {}  # a trainer's own line: free-form, maybe without these
    eph, sps = m.get("episodes_per_hour"), m.get("sps")
    if g.span is not None and g.span.node_rank and not m:
        return Text("the job's rates: on node 0's tab", style="dim")
    if g.state in LIVE_STATES:
        return Text(f"{count(eph)} eps/h · {count(sps)} steps/s")
    if eph is None and sps is None:
        return Text("no rate: not running", style="dim")
    return Text(f"last: {count(eph)} eps/h · {count(sps)} steps/s", style="dim")


def _settings_line(g: protocol.GameState) -> str:
    s = g.settings
    gpu = g.gpu_memory_used
    gpu_part = f" · gpu {gib(gpu)}" if gpu else ""
    envs = f"{s.get('num_envs', '?')} envs{ranks_part(g.world_size)}"
    threads = f" · thr {g.threads.label}" if g.threads else ""
    return f"{envs} · mb {s.get('minibatch_size', '?')}{threads}{gpu_part}"


def ranks_part(world_size: int) -> str:
    """A job's envs are per rank and its steps/s (the rates line) the sum over them."""
    return f" x {world_size} ranks" if world_size > 1 else ""


def _restarts_line(g: protocol.GameState, now: float) -> str:
    ckpt = g.checkpoint
    age = duration(now - ckpt.time) + " ago" if ckpt is not None and ckpt.time else "none"
    text = f"restarts {g.restarts} · ckpt {age}"
    if g.last_exit and g.state in ("crashed", "backoff", "crash_loop", "hung"):
        text += f" · {g.last_exit}"
    return text


class GameGrid(Grid):
    """The panes, one per game, added and removed as the agent's games change."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected_game: str | None = None
        """The game the action keys apply to; None only while there is no game."""
        self.marked: list[str] = []
        """Games marked for comparison, in the order marked (the detail screen's overlays
        start from them, in their colours' order)."""

    def compose(self) -> ComposeResult:
        yield Static("no games yet: press a to add one", id="no-games")

    def show(self, games: dict[str, protocol.GameState], agent_now: float) -> None:
        panes = {p.game: p for p in self.query(GamePane)}
        before = sorted(panes)
        for name in [n for n in panes if n not in games]:
            panes.pop(name).remove()
        for name in sorted(n for n in games if n not in panes):
            panes[name] = self._mount_sorted(GamePane(name), panes)
        for name, pane in panes.items():
            pane.show(games[name], agent_now)
        self.marked = [g for g in self.marked if g in panes]  # a gone game's mark goes too
        if self.selected_game not in panes:
            self.select(successor(before, self.selected_game, sorted(panes)))
        placeholder = self.query_one("#no-games")
        if placeholder.display != (not games):
            placeholder.display = not games

    def _mount_sorted(self, pane: GamePane, panes: dict[str, GamePane]) -> GamePane:
        """Mount `pane` before the first pane whose game sorts after it: panes stay in
        name order however the games arrive."""
        after = [p for name, p in sorted(panes.items()) if name > pane.game]
        if after:
            self.mount(pane, before=after[0])
        else:
            self.mount(pane)
        return pane

    def selected(self) -> str | None:
        """The selected game (None when there is none)."""
        return self.selected_game

    def select(self, game: str | None) -> None:
        """Mark `game`'s pane as the selected one (and only it)."""
        self.selected_game = game
        for pane in self.query(GamePane):
            pane.set_class(pane.game == game, "-selected")
            if pane.game == game:
                pane.scroll_visible(animate=False)

    def toggle_mark(self, game: str) -> bool:
        """Mark `game` for comparison, or take its mark off; True when it is now marked."""
        marked = game not in self.marked
        if marked:
            self.marked.append(game)
        else:
            self.marked.remove(game)
        for pane in self.query(GamePane):
            if pane.game == game:
                pane.mark(marked)
        return marked

    def move(self, dx: int, dy: int) -> None:
        """Select the pane `dx` columns and `dy` rows away, if there is one."""
        names = [p.game for p in self.query(GamePane)]
        if not names:
            return
        cols = max(1, self.styles.grid_size_columns or 1)
        index = names.index(self.selected_game) if self.selected_game in names else 0
        target = index + dx + dy * cols
        if dy > 0 and target >= len(names) and index // cols < (len(names) - 1) // cols:
            target = len(names) - 1  # the row below is shorter: its last pane
        if 0 <= target < len(names) and (dy or target // cols == index // cols):
            self.select(names[target])
            self._carry_focus(names[target])

    def _carry_focus(self, game: str) -> None:
        """A pane that had the focus hands it on, so focus and selection stay one."""
        if isinstance(self.screen.focused, GamePane):
            for pane in self.query(GamePane):
                if pane.game == game:
                    pane.focus(scroll_visible=False)


def successor(before: list[str], gone: str | None, now: list[str]) -> str | None:
    """Who is selected once `gone` went away: the game that took its place in name order
    (its right-hand neighbour), else the one before it; the first when nothing was."""
    if not now:
        return None
    if gone is None or gone not in before:
        return now[0]
    later = [n for n in before[before.index(gone) + 1 :] if n in now]
    if later:
        return later[0]
    earlier = [n for n in before[: before.index(gone)] if n in now]
    return earlier[-1] if earlier else now[0]
