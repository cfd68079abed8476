"""Modals: confirm, pick one of a list, a game's log, the plan, install progress."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from controlroom.link.errors import LinkError
from controlroom.tui.format import clock


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no to one question."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm_yes", tooltip="Do it"),
        Binding("n,escape", "answer(False)", "No", id="confirm_no", tooltip="Leave it"),
    ]

    # Focus "No" by default; AUTO_FOCUS (not a query in on_mount) because an answer typed
    # at once can dismiss the screen before its mount handler runs.
    AUTO_FOCUS = "#no"

    def __init__(self, question: str) -> None:
        super().__init__(classes="modal")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, id="question", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def answer_from_button(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class PickScreen(ModalScreen[str | None]):
    """Pick one name from a list (a game, a profile); escape picks nothing."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pick_cancel", tooltip="Pick nothing")]
    AUTO_FOCUS = "#choices"

    def __init__(self, title: str, choices: list[tuple[str, str]]) -> None:
        """Args: title: what is picked; choices: (value, label) pairs."""
        super().__init__(classes="modal")
        self.title_text, self.choices = title, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            options = [Option(label, id=value) for value, label in self.choices]
            yield OptionList(*options, id="choices")

    @on(OptionList.OptionSelected)
    def pick(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextScreen(ModalScreen[None]):
    """Lines of text to read (a game's log, the help)."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="text_close", tooltip="Back")]

    def __init__(self, title: str, lines: list[str], *, ansi: bool = False) -> None:
        """Args: title: the heading; lines: the text; ansi: the lines may carry terminal
        colour codes (a trainer's log): show the colours, never the escape bytes."""
        super().__init__(classes="modal")
        self.title_text, self.lines, self.ansi = title, lines, ansi

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield RichLog(id="text", wrap=True, markup=False, highlight=False)

    def on_mount(self) -> None:
        log = self.query_one("#text", RichLog)
        for line in self.lines:
            log.write(Text.from_ansi(line) if self.ansi else line)
        log.focus()

    def action_close(self) -> None:
        self.dismiss(None)


LogFetch = Callable[[], Awaitable[Any]]


class LogScreen(TextScreen):
    """A game's trainer output and metrics lines, fetched again every `interval` seconds:
    new lines are appended, and the view follows them while it is scrolled to the end
    (scrolled up, it stays where the reader is)."""

    def __init__(self, title: str, fetch: LogFetch, *, interval: float = 2.0) -> None:
        """Args: title: the heading; fetch: returns a `game_log` reply; interval: seconds
        between fetches."""
        super().__init__(title, [], ansi=True)
        self.fetch, self.interval = fetch, interval
        self.shown: dict[str, list[str]] = {"log": [], "metrics": []}
        self.fetches = 0
        """How many replies were shown (tests wait on it)."""

    def on_mount(self) -> None:
        super().on_mount()
        self.run_worker(
            self.follow(),
            group="log",
            exclusive=True,
            exit_on_error=False,
            description="follow a game's log",
        )

    async def follow(self) -> None:
        """Fetch, append what is new, wait; until the screen closes (the worker ends)."""
        error = ""
        while True:
            try:
                reply = await self.fetch()
            except LinkError as exc:
                if exc.message != error:
                    error = exc.message
                    self.append("log", [*self.shown["log"], f"({exc.message}; trying again)"])
            else:
                error = ""
                self.append("log", log_lines(reply))
                self.append("metrics", metrics_lines(reply))
                self.fetches += 1
            await asyncio.sleep(self.interval)

    def append(self, stream: str, lines: list[str]) -> None:
        """Write the lines of `stream` not shown yet, following only when at the end."""
        fresh = new_lines(self.shown[stream], lines)
        self.shown[stream] = lines
        if not fresh:
            return
        log = self.query_one("#text", RichLog)
        follow = log.is_vertical_scroll_end or log.max_scroll_y == 0
        for line in fresh:
            log.write(
                Text.from_ansi(line) if stream == "log" else Text(line, style="cyan"),
                scroll_end=follow,
            )


def new_lines(old: list[str], new: list[str]) -> list[str]:
    """The lines of a newer tail `new` that follow the older tail `old`: the longest end
    of `old` that starts `new` is what both show."""
    for overlap in range(min(len(old), len(new)), 0, -1):
        if old[-overlap:] == new[:overlap]:
            return new[overlap:]
    return new


def log_lines(reply: Any) -> list[str]:
    """The trainer output of a `game_log` reply, whatever its exact shape."""
    if isinstance(reply, dict):
        for key in ("lines", "log", "text"):
            if key in reply:
                value = reply[key]
                return (
                    [str(x) for x in value] if isinstance(value, list) else str(value).splitlines()
                )
    return str(reply).splitlines()


def metrics_lines(reply: Any) -> list[str]:
    """The metrics.jsonl lines of a `game_log` reply (when the agent sends them), each
    one short line: time, kind, then the figures."""
    raw = reply.get("metrics") if isinstance(reply, dict) else None
    return [metrics_line(str(x)) for x in raw] if isinstance(raw, list) else []


def metrics_line(raw: str) -> str:
    try:
        row = json.loads(raw)
    except ValueError:
        return f"metrics {raw}"
    if not isinstance(row, dict):
        return f"metrics {raw}"
    figures = " ".join(
        f"{k.split('/')[-1]}={_short(v)}"
        for k, v in row.items()
        if k not in ("time", "kind", "path")
    )
    return f"{clock(row.get('time'))} metrics {row.get('kind', '')} {figures}".rstrip()


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class ProgressScreen(ModalScreen[None]):
    """Steps of a long job (installing the agent), one line each, closable when done."""

    BINDINGS = [Binding("escape", "close", "Close", id="progress_close", tooltip="Back")]

    def __init__(self, title: str) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.finished = False
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title")
            yield RichLog(id="steps", wrap=True, markup=False)

    def step(self, line: str) -> None:
        """Show one more line of progress."""
        self.lines.append(line)
        self.query_one("#steps", RichLog).write(line)

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(None)


class PlanScreen(ModalScreen[None]):
    """The policy engine's plan: per game, the host, the profile comparison."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="plan_close", tooltip="Back")]
    AUTO_FOCUS = "#plan-scroll"

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__(classes="modal")
        self.title_text, self.body = title, body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            with VerticalScroll(id="plan-scroll"):
                yield Static(self.body, id="plan")

    def action_close(self) -> None:
        self.dismiss(None)
