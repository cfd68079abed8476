"""Modals: confirm, pick one of a list, a game's log, the plan, install progress."""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, RichLog, Static
from textual.widgets.option_list import Option


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
            yield Label(self.title_text, classes="dialog-title")
            yield RichLog(id="text", wrap=False, markup=False, highlight=False)

    def on_mount(self) -> None:
        log = self.query_one("#text", RichLog)
        for line in self.lines:
            log.write(Text.from_ansi(line) if self.ansi else line)
        log.focus()

    def action_close(self) -> None:
        self.dismiss(None)


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
