"""A braille canvas: lines drawn in dots, 2 across and 4 down per terminal cell, each
cell in the colour of the last line through it. Pure (Rich Text out), no Textual."""

from __future__ import annotations

from rich.text import Text

BRAILLE = 0x2800
BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
"""The dot bit of (row 0-3, column 0-1) inside one braille cell."""


class Canvas:
    """`width` x `height` cells; dots addressed from the top left, (0..2w-1, 0..4h-1)."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.bits = [[0] * width for _ in range(height)]
        self.colors: list[list[str]] = [[""] * width for _ in range(height)]
        self.rules: dict[int, str] = {}
        """Column -> colour of a vertical rule (a mark), drawn where no dot is."""

    def dot(self, x: int, y: int, color: str) -> None:
        if 0 <= x < 2 * self.width and 0 <= y < 4 * self.height:
            row, col = y // 4, x // 2
            self.bits[row][col] |= BITS[y % 4][x % 2]
            self.colors[row][col] = color

    def line(self, x0: int, y0: int, x1: int, y1: int, color: str) -> None:
        """Every dot between two dots (inclusive). The hot loop of a redraw (a few
        thousand dots a plot), so `dot` is written out here."""
        dx, dy = x1 - x0, y1 - y0
        steps = max(abs(dx), abs(dy), 1)
        bits, colors, xs, ys = self.bits, self.colors, 2 * self.width, 4 * self.height
        for i in range(steps + 1):
            x, y = x0 + dx * i // steps, y0 + dy * i // steps
            if 0 <= x < xs and 0 <= y < ys:
                bits[y >> 2][x >> 1] |= BITS[y & 3][x & 1]
                colors[y >> 2][x >> 1] = color

    def rule(self, column: int, color: str) -> None:
        if 0 <= column < self.width:
            self.rules[column] = color

    def row(self, index: int) -> list[tuple[str, str]]:
        """One row of cells as (characters, colour) runs, one run per colour change."""
        runs: list[tuple[str, str]] = []
        bits, colors = self.bits[index], self.colors[index]
        run: list[str] = []
        style = ""
        for col in range(self.width):
            if bits[col]:
                char, color = chr(BRAILLE + bits[col]), colors[col]
            elif col in self.rules:
                char, color = "│", self.rules[col]
            else:
                char, color = " ", ""
            if color != style and run:
                runs.append(("".join(run), style))
                run = []
            run.append(char)
            style = color
        runs.append(("".join(run), style))
        return runs

    def text(self, index: int) -> Text:
        """One row as Rich Text (for reading it in a test or a terminal)."""
        text = Text()
        for chars, color in self.row(index):
            text.append(chars, style=color)
        return text
