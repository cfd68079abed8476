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
        """Every dot between two dots (inclusive)."""
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(steps + 1):
            self.dot(x0 + (x1 - x0) * i // steps, y0 + (y1 - y0) * i // steps, color)

    def rule(self, column: int, color: str) -> None:
        if 0 <= column < self.width:
            self.rules[column] = color

    def row(self, index: int) -> Text:
        """One row of cells as Text, runs of one colour in one span."""
        text = Text()
        bits, colors = self.bits[index], self.colors[index]
        run, style = "", ""
        for col in range(self.width):
            if bits[col]:
                char, color = chr(BRAILLE + bits[col]), colors[col]
            elif col in self.rules:
                char, color = "│", self.rules[col]
            else:
                char, color = " ", ""
            if color != style and run:
                text.append(run, style=style)
                run = ""
            run, style = run + char, color
        text.append(run, style=style)
        return text
