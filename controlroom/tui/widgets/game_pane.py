"""A pane per game: state, episodes against target, speed, reward, settings, restarts."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Static

from controlroom.tui.format import bar, count, duration, gib, number, spark
from controlroom.tui.widgets.quiet import QuietStatic

STATE_LABELS = {
    "starting": "starting", "running": "running", "stopping": "stopping",
    "stopped": "stopped", "crashed": "crashed", "backoff": "backing off",
    "crash_loop": "crash loop", "hung": "hung", "paused": "paused (guard)", "done": "done",
}  # fmt: skip
PANE_BAR_W = 12


class GamePane(QuietStatic, can_focus=True):
    """One game's card; focus selects the game for the action keys."""

    def __init__(self, game: str) -> None:
        super().__init__(id=f"game-{_css_id(game)}", classes="game-pane", markup=False)
        self.game = game
        self.show_titles(title=game)
        self._shown_state = ""

    def show(self, g: dict[str, Any], agent_now: float) -> None:
        """Render the GameState as of `agent_now` (for ages)."""
        state = str(g.get("state", "stopped"))
        if state != self._shown_state:
            self.remove_class(f"-{self._shown_state}")
            self.add_class(f"-{state}")
            self._shown_state = state
        self.show_titles(subtitle=_subtitle(g, agent_now))
        self.show_text(render_game(g, agent_now))


def _css_id(game: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in game)


def _subtitle(g: dict[str, Any], now: float) -> str:
    state = str(g.get("state", "stopped"))
    label = STATE_LABELS.get(state, state)
    nxt = g.get("next_restart_at")
    if state == "backoff" and nxt:
        label += f" {duration(float(nxt) - now)}"
    return label if g.get("wanted", True) or state == "stopped" else f"{label} (unwanted)"


def render_game(g: dict[str, Any], now: float) -> Text:
    m = g.get("metrics") or {}
    episodes, target = m.get("episodes") or 0, g.get("target_episodes") or 0
    frac = episodes / target if target else 0.0
    lines = [
        Text.assemble(f"ep {count(episodes)}/{count(target)} ",
                      (bar(frac, PANE_BAR_W), "green"), f" {frac * 100:.1f}%"),
        Text(f"{count(m.get('episodes_per_hour'))} eps/h · {count(m.get('sps'))} steps/s"),
        Text.assemble(f"R100 {number(m.get('return_mean'))} ",
                      (spark(g.get("return_history") or [], 18), "cyan")),
        Text(_settings_line(g)),
        Text(_restarts_line(g, now)),
    ]  # fmt: skip
    return Text("\n").join(lines)


def _settings_line(g: dict[str, Any]) -> str:
    s = g.get("settings") or {}
    gpu = g.get("gpu_memory_used")
    gpu_part = f" · gpu {gib(gpu)}" if gpu else ""
    return f"{s.get('num_envs', '?')} envs · mb {s.get('minibatch_size', '?')}{gpu_part}"


def _restarts_line(g: dict[str, Any], now: float) -> str:
    ckpt = g.get("checkpoint") or {}
    age = duration(now - float(ckpt["time"])) + " ago" if ckpt.get("time") else "none"
    text = f"restarts {g.get('restarts', 0)} · ckpt {age}"
    if g.get("last_exit") and g.get("state") in ("crashed", "backoff", "crash_loop", "hung"):
        text += f" · {g['last_exit']}"
    return text


class GameGrid(Grid):
    """The panes, one per game, added and removed as the agent's games change."""

    def compose(self) -> ComposeResult:
        yield Static("no games yet: press a to add one", id="no-games")

    def show(self, games: dict[str, Any], agent_now: float) -> None:
        panes = {p.game: p for p in self.query(GamePane)}
        for name in [n for n in panes if n not in games]:
            panes.pop(name).remove()
        for name in sorted(n for n in games if n not in panes):
            panes[name] = self._mount_sorted(GamePane(name), panes)
        for name, pane in panes.items():
            pane.show(games[name], agent_now)
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
        """The focused game, else the first one."""
        focused = self.screen.focused
        if isinstance(focused, GamePane) and focused.parent is self:
            return focused.game
        panes = list(self.query(GamePane))
        return panes[0].game if panes else None
