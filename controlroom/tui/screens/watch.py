"""Watch the policy play: one episode of a game's current policy, drawn as it arrives.

The agent runs an evaluator that plays one episode and writes its colour screen as PNG
frames (agent/evaluation/watch.py); this screen polls the `watch` op at the stream's
frame rate with the newest frame's number as its cursor and gets at most one newer
frame a poll, so the picture moves at a steady rate and the link carries at most one
frame per poll (bench/RESULTS.md: ~15 KB/s for Pong). textual-image draws it with the
terminal's best protocol (Kitty, Sixel) and half-cell blocks everywhere else. Closing
the screen stops the stream; a stream nobody polls ends on the agent by itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer

from controlroom import protocol
from controlroom.link.errors import LinkError
from controlroom.tui.widgets.quiet import QuietStatic

if TYPE_CHECKING:
    from textual_image.widget._base import Image

Request = Callable[..., Awaitable[Any]]


def frame_image() -> Image:
    """The terminal's best picture: Kitty or Sixel graphics where it answers for them,
    else half-cell blocks, two colour pixels a cell, which every colour terminal draws.
    textual-image itself falls back to grey shading when its output is no terminal (a
    pipe, a test, a screenshot): that would lose the game's colours for no reason."""
    # Imported here: textual-image takes numpy when it finds it installed, and the
    # laptop half loads no numpy until a picture is asked for (test_import_boundaries).
    from textual_image import renderable
    from textual_image.widget import AutoImage, HalfcellImage

    graphics = renderable.Image in (renderable.TGPImage, renderable.SixelImage)
    return (AutoImage if graphics else HalfcellImage)(None, id="watch-frame")


class WatchScreen(ModalScreen[None]):
    """One episode of a game's policy, frame by frame."""

    BINDINGS = [
        Binding("escape,q", "close", "Back", id="watch_close", tooltip="Stop watching"),
    ]
    DEFAULT_CSS = """
    WatchScreen { align: center middle; background: $background 80%; }
    WatchScreen #watch { width: 52; height: auto; max-height: 100%; border: round $primary; }
    WatchScreen #watch-title, WatchScreen #watch-status { height: 1; width: 1fr; }
    WatchScreen #watch-frame { width: 50; height: 33; }
    """

    def __init__(self, game: str, request: Request) -> None:
        """Args: game: whose policy; request: sends an op to the agent (HostView.request)."""
        super().__init__()
        self.game, self.request = game, request
        self.stream = ""
        self.cursor = -1
        self.frames_shown = 0
        """Frames drawn so far (tests wait on it)."""
        self.bytes_in = 0
        """PNG bytes received (base64 as sent), for the status line's rate."""
        self.started = time.monotonic()
        self.status = "starting the episode..."

    def compose(self) -> ComposeResult:
        with Vertical(id="watch"):
            yield QuietStatic(f"{self.game}: the current policy", id="watch-title")
            yield frame_image()
            yield QuietStatic(self.status, id="watch-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(
            self.play(),
            group="watch",
            exclusive=True,
            exit_on_error=False,
            description=f"watch {self.game}",
        )

    async def play(self) -> None:
        """Start the stream, then poll it at its frame rate until the episode ends."""
        try:
            reply = await self.request("watch", game=self.game)
            answer = protocol.as_result(reply, protocol.WatchFrames)
            self.stream = answer.stream
            while not self.show(answer):
                await asyncio.sleep(1 / answer.fps)
                reply = await self.request(
                    "watch", game=self.game, stream=self.stream, after=self.cursor
                )
                answer = protocol.as_result(reply, protocol.WatchFrames)
        except (LinkError, protocol.ProtocolError) as exc:
            self.say(f"cannot watch: {exc}")

    def show(self, answer: protocol.WatchFrames) -> bool:
        """Draw the newest frame and the status; True once the episode is over."""
        for frame in answer.frames:
            try:
                png = base64.b64decode(frame.png, validate=True)
            except binascii.Error:
                continue
            self.frame_widget().image = io.BytesIO(png)
            self.cursor, self.frames_shown = frame.i, self.frames_shown + 1
            self.bytes_in += len(frame.png)
        rate = self.bytes_in / max(time.monotonic() - self.started, 1e-3) / 1024
        text = f"frame {self.cursor + 1}, {rate:.1f} KiB/s"
        if answer.score is not None:
            text += f"; score {answer.score:g}"
        if answer.error:
            text += f"; {answer.error}"
        elif answer.done:
            text += " (episode over)"
        self.say(text)
        return answer.done

    def frame_widget(self) -> Image:
        from textual_image.widget._base import Image

        return self.query_one("#watch-frame", Image)

    def say(self, text: str) -> None:
        self.status = text
        self.query_one("#watch-status", QuietStatic).update(text)

    def action_close(self) -> None:
        if self.stream:  # stop the evaluator now, not when the agent notices the silence
            stream, request, game = self.stream, self.request, self.game
            self.app.run_worker(
                request("watch", game=game, stream=stream, stop=True),
                group="watch-stop",
                exit_on_error=False,
            )
        self.dismiss(None)
