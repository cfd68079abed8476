"""`controlroom local` trains CartPole beside Pong unless told otherwise (issue 13.5):
CartPole's curve rises within a minute on a CPU, Pong is the real job."""

from __future__ import annotations

import pytest

from controlroom.tui.cli import LOCAL_GAMES, _local_games, _local_parser


@pytest.mark.parametrize(
    ("argv", "games"),
    [
        ([], ("CartPole", "Pong")),
        (["--game", "Breakout"], ("Breakout",)),
        (["--game", "Breakout", "--game", "Pong"], ("Breakout", "Pong")),
        (["--game", "none"], ()),
        (["--game", "None"], ()),
    ],
)
def test_the_games_local_mode_makes_sure_of(argv: list[str], games: tuple[str, ...]) -> None:
    assert _local_games(_local_parser().parse_args(argv).games) == games
    assert LOCAL_GAMES[0] == "CartPole"  # first, so its curve is the first to show
