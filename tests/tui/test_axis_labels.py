"""Axis labels fit their column at every magnitude and read as the value they label
(issue 19, item 9: approx KL's 2.61e-05 was cut to "2.61e-0", which reads as 2.61).
Unit tests of the label function, then the detail screen's PPO page in the pilot."""

from __future__ import annotations

import re

import pytest

from controlroom.tui.widgets.plots import Y_LABEL_W, short
from tests.tui.detail_support import (
    SIZE,
    RecordedAgent,
    open_detail,
    plot,
    recorded_app,
    state_with_cartpole,
    synthetic,
)

WIDTH = Y_LABEL_W - 1  # the label's columns left of the axis
SI = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
MANTISSAS = (1.0, 1.5, 2.61, 4.999, 7.83, 9.96, 9.9999)
EXPONENTS = range(-9, 16)


def value_of(label: str) -> float:
    """What a reader takes a label for: 12.3k is 12300, 2.6e-5 is 0.000026."""
    label = label.strip().replace(",", "")
    scale = SI.get(label[-1:], 1.0)
    return float(label.rstrip("kMGT")) * scale


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("exponent", EXPONENTS)
def test_labels_fit_and_keep_two_digits_from_1e_minus_9_to_1e15(sign: float, exponent: int) -> None:
    for mantissa in MANTISSAS:
        x = sign * mantissa * 10.0**exponent
        label = short(x)
        assert len(label) <= WIDTH, (x, label)
        assert value_of(label) == pytest.approx(x, rel=0.05), (x, label)  # 2 digits at least


@pytest.mark.parametrize("x", [-1.5e-11, 1.5e-300, -2.61e-120, 5e-324, 1.2e308, -3e99])
def test_extreme_values_fit_and_keep_their_magnitude(x: float) -> None:
    label = short(x)
    assert len(label) <= WIDTH and value_of(label) == pytest.approx(x, rel=0.5), label


def test_the_short_forms() -> None:
    assert [short(x) for x in (2.61e-5, -2.61e-5, 0.000261, -0.00261, 1.5e6, 12_000)] == [
        "2.61e-5",
        "-2.6e-5",
        "2.61e-4",
        "-0.0026",
        "1.5M",
        "12k",
    ]
    assert [short(x) for x in (999_950, 4.2e9, 7e12, 1.5e22)] == ["1M", "4.2G", "7T", "1.5e22"]


async def test_the_ppo_page_labels_a_tiny_approx_kl_in_full() -> None:
    # approx KL of a calm policy: 2.61e-05 .. 7.83e-05 (the figures of the report)
    reply = synthetic()
    column = reply["columns"].index("approx_kl")
    for i, row in enumerate(reply["rows"]):
        row[column] = 2.61e-5 * (1 + i % 3)
    agent = RecordedAgent({("CartPole", "main"): reply})
    async with recorded_app().run_test(size=SIZE) as pilot:
        screen = await open_detail(pilot, agent, state_with_cartpole())
        await pilot.press("p")
        await pilot.pause()
        kl = plot(screen, "approx_kl")
        shown = [kl.render_line(y).text for y in range(kl.size.height)]
        labels = [m[1] for line in shown if (m := re.match(r"^ *(\S+)┤", line))]
        assert len(labels) == 3, shown  # top, middle, bottom
        assert [value_of(label) for label in labels] == pytest.approx(
            [7.83e-5, 5.22e-5, 2.61e-5], rel=0.02
        ), labels
