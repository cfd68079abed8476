"""The fleet overview: a row per host (link, GPU, games, reboots in 24 h)."""

from __future__ import annotations

from textual.widgets import DataTable

from controlroom.tui.messages import HostSummary

COLUMNS = ("host", "link", "GPU", "games", "reboots 24h")


class FleetTable(DataTable[str]):
    """One row per host, updated from each HostView's summary."""

    def __init__(self, hosts: list[str], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.hosts = hosts

    def on_mount(self) -> None:
        for key, label in zip(("host", "link", "gpu", "games", "reboots"), COLUMNS, strict=True):
            self.add_column(label, key=key)
        for host in self.hosts:
            self.add_row(host, "◌ connecting", "-", "-", "-", key=host)

    def show(self, s: HostSummary) -> None:
        for column, value in (
            ("link", s.link),
            ("gpu", s.gpu),
            ("games", s.games),
            ("reboots", s.reboots),
        ):
            self.update_cell(s.host, column, value, update_width=True)
