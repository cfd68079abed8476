"""The `watch` op over the real socket: a stream of an untrained Pong's colour frames,
newest after the cursor, one a poll; stop ends its evaluator."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from controlroom import protocol
from controlroom.agent.hostcli.client import OpFailed
from tests.agent.harness import AgentHarness, wait_for
from tests.agent.test_evaluate_op import evaluators, give_run

PNG = b"\x89PNG\r\n\x1a\n"


def test_watch_streams_frames_and_stop_ends_the_evaluator(
    agent: AgentHarness, untrained_pong: Path
) -> None:
    agent.start()
    give_run(agent, untrained_pong, "Pong")
    with agent.client() as c:
        first = c.call_as(protocol.WatchFrames, "watch", game="Pong")
        assert first.stream and first.fps == protocol.WATCH_FPS and not first.done
        seen: list[protocol.WatchFrame] = []
        deadline = time.monotonic() + 120
        while len(seen) < 5 and time.monotonic() < deadline:
            after = seen[-1].i if seen else -1
            got = c.call_as(
                protocol.WatchFrames, "watch", game="Pong", stream=first.stream, after=after
            )
            assert len(got.frames) <= 1 and not got.error
            seen += got.frames
            time.sleep(1 / protocol.WATCH_FPS)
        assert len(seen) >= 5, "frames of the episode"
        assert [f.i for f in seen] == sorted({f.i for f in seen})  # newer each time
        f = seen[-1]
        assert (f.width, f.height) == (160, 210) and base64.b64decode(f.png).startswith(PNG)
        stopped = c.call_as(
            protocol.WatchFrames, "watch", game="Pong", stream=first.stream, stop=True
        )
        assert stopped.done
    wait_for(lambda: not evaluators(), 20, "the evaluator to end")


def test_watch_refuses_a_stream_it_does_not_have(agent: AgentHarness, untrained_pong: Path) -> None:
    agent.start()
    give_run(agent, untrained_pong, "Pong")
    with agent.client() as c, pytest.raises(OpFailed) as failed:
        c.call("watch", game="Pong", stream="00ff")
    assert failed.value.code == "not_found"
    assert "no watch stream '00ff' of Pong" in failed.value.message
