"""QuietStatic: a Static that skips the update (and its re-layout) when nothing changed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class QuietStatic(Static):
    """Telemetry arrives at 2 Hz per host; most lines do not change between samples."""

    _last: Text | None = None

    def show_text(self, text: Text) -> None:
        """Update only when the text differs from what is shown."""
        if text != self._last:
            self._last = text
            self.update(text)
