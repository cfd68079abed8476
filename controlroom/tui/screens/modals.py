"""Modals: confirm, pick one of a list, a game's log, a table result (plan), install."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, OptionList, RichLog
from textual.widgets.option_list import Option


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no to one question."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm_yes", tooltip="Do it"),
        Binding("n,escape", "answer(False)", "No", id="confirm_no", tooltip="Leave it"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__(classes="modal")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, id="question", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def answer_from_button(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class PickScreen(ModalScreen[str | None]):
    """Pick one name from a list (a game, a profile); escape picks nothing."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pick_cancel", tooltip="Pick nothing")]

    def __init__(self, title: str, choices: list[tuple[str, str]]) -> None:
        """Args: title: what is picked; choices: (value, label) pairs."""
        super().__init__(classes="modal")
        self.title_text, self.choices = title, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            options = [Option(label, id=value) for value, label in self.choices]
            yield OptionList(*options, id="choices")

    def on_mount(self) -> None:
        self.query_one("#choices", OptionList).focus()

    @on(OptionList.OptionSelected)
    def pick(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextScreen(ModalScreen[None]):
    """Lines of text to read (a game's log, the help)."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="text_close", tooltip="Back")]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__(classes="modal")
        self.title_text, self.lines = title, lines

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title")
            yield RichLog(id="text", wrap=False, markup=False, highlight=False)

    def on_mount(self) -> None:
        log = self.query_one("#text", RichLog)
        for line in self.lines:
            log.write(line)
        log.focus()

    def action_close(self) -> None:
        self.dismiss(None)


class TableScreen(ModalScreen[None]):
    """Rows of a result (the plan) as a table."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="table_close", tooltip="Back")]

    def __init__(self, title: str, rows: list[dict[str, Any]], note: str = "") -> None:
        super().__init__(classes="modal")
        self.title_text, self.rows, self.note = title, rows, note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title")
            yield DataTable[str](id="rows", zebra_stripes=True)
            yield Label(self.note, id="note")

    def on_mount(self) -> None:
        table = self.query_one("#rows", DataTable)
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        table.add_columns(*columns)
        for row in self.rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


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
