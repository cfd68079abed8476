"""The main screen: one host's view, or a fleet overview with a tab per host."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, TabbedContent, TabPane

from controlroom.tui.messages import HostSummary
from controlroom.tui.target import HostTarget
from controlroom.tui.widgets.fleet import FleetTable
from controlroom.tui.widgets.host_view import HostView


def _move(keys: str, dx: int, dy: int, name: str) -> Binding:
    return Binding(
        keys,
        f"move_selection({dx}, {dy})",
        f"Select {name}",
        show=False,
        id=f"select_{name}",
        tooltip=f"Select the game pane {name} of this one",
    )


class MainScreen(Screen[None]):
    """One HostView, or an Overview tab plus a tab per host."""

    # `l` is the log, so right has no letter; h/j/k as in vi. Not priority: in a focused
    # table or log the arrows keep their own meaning.
    BINDINGS = [
        _move("left,h", -1, 0, "left"),
        _move("right", 1, 0, "right"),
        _move("up,k", 0, -1, "up"),
        _move("down,j", 0, 1, "down"),
    ]
    # One host: nothing takes the focus at first, so the arrow keys reach the panes; a
    # fleet's tab bar takes it (left/right change tabs there, up/down still select).
    AUTO_FOCUS = "Tabs"
    # The compact footer's key group ("+- Envs"): one space either side, as each key has.
    DEFAULT_CSS = """
    MainScreen Footer.-compact KeyGroup { padding-left: 0; }
    MainScreen Footer.-compact FooterLabel { margin: 0 1 0 0; }
    """

    def __init__(
        self,
        targets: list[HostTarget],
        *,
        readonly: bool,
        clock: Callable[[], float] = time.time,
        live: bool = True,
        install_key: str = "i",
    ) -> None:
        super().__init__()
        self.targets, self.readonly, self.clock, self.live = targets, readonly, clock, live
        self.install_key = install_key

    def compose(self) -> ComposeResult:
        if len(self.targets) == 1:
            yield self._view(self.targets[0])
        else:
            with TabbedContent(id="tabs"):
                with TabPane("Overview", id="overview"):
                    yield FleetTable([t.name for t in self.targets], id="fleet")
                for i, target in enumerate(self.targets):
                    with TabPane(target.name, id=f"tab-{i}"):
                        yield self._view(target)
        # Every key fits at 120 columns, the retry key too while a link is down: compact
        # (no padding around the keys) and without Textual's "^p palette", which the help
        # lists (the palette still opens on ctrl+p).
        yield Footer(compact=True, show_command_palette=False)

    def _view(self, target: HostTarget) -> HostView:
        return HostView(
            target,
            readonly=self.readonly,
            clock=self.clock,
            live=self.live,
            install_key=self.install_key,
        )

    def current_view(self) -> HostView | None:
        """The host the action keys apply to: the only one, or the active tab's."""
        views = list(self.query(HostView))
        if len(views) == 1:
            return views[0]
        active = self.query_one("#tabs", TabbedContent).active_pane
        return None if active is None else next(iter(active.query(HostView)), None)

    def action_move_selection(self, dx: int, dy: int) -> None:
        view = self.current_view()
        if view is not None:
            view.move_selection(dx, dy)

    @on(TabbedContent.TabActivated)
    def refresh_footer_keys(self) -> None:
        self.app.refresh_bindings()  # the install key shows only on a host with no agent

    @on(HostSummary)
    def update_fleet_row(self, message: HostSummary) -> None:
        for table in self.query(FleetTable):
            table.show(message)

    @on(DataTable.RowSelected, "#fleet")
    def open_host_tab(self, event: DataTable.RowSelected) -> None:
        names = [t.name for t in self.targets]
        index = names.index(str(event.row_key.value))
        self.query_one("#tabs", TabbedContent).active = f"tab-{index}"
