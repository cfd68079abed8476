"""QuietStatic: a Static that skips the update (and its re-layout) when nothing changed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class QuietStatic(Static):
    """Telemetry arrives at 2 Hz per host; most lines do not change between samples.

    Every QuietStatic has a fixed size in the stylesheet, so a new text repaints the
    widget alone: no layout pass over the screen (which costs more than the repaint).
    """

    _last: Text | None = None
    _titles: tuple[str | None, str | None] = (None, None)

    def show_text(self, text: Text) -> None:
        """Update only when the text differs from what is shown."""
        if text != self._last:
            self._last = text
            self.update(text, layout=False)

    def show_titles(self, title: str | None = None, subtitle: str | None = None) -> None:
        """Set the border title and subtitle, only when they changed (each set repaints)."""
        old_title, old_subtitle = self._titles
        if title is not None and title != old_title:
            self.border_title = title
        if subtitle is not None and subtitle != old_subtitle:
            self.border_subtitle = subtitle
        self._titles = (title or old_title, subtitle or old_subtitle)
