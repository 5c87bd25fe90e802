"""SVG charts drawn on the server, as strings: no script, no third party, no styles.

Pure: values in, markup out, tested without an app. Every text is escaped here, so
a link text or list name can go into a chart as it is. Colours come from CSS classes
(`series-0`, `series-1`, …) with a `fill`/`stroke` presentation attribute as the
fallback; the page's CSP forbids style attributes, not SVG presentation attributes.
Each chart carries a <title> and a <desc>; the page puts the same numbers in a table
next to it for screen readers and for anyone who wants the exact values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

#: fallback colours per series when the stylesheet is not loaded (e.g. a saved page)
PALETTE = ("#1f5f8b", "#c0392b", "#2e7d4f", "#b7791f")
WIDTH = 640
HEIGHT = 240
#: room for the y-axis numbers on the left and the labels below
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 42


@dataclass(frozen=True)
class Series:
    """One named row of numbers in a chart, one value per label."""

    name: str
    values: list[int]


def nice_maximum(value: int) -> int:
    """Return the smallest 1, 2 or 5 × 10^k at or above `value` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _frame(chart_id: str, title: str, description: str, body: list[str]) -> str:
    name = escape(chart_id)
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{name}"'
            f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
            f' aria-labelledby="{name}-title {name}-desc">',
            f'<title id="{name}-title">{escape(title)}</title>',
            f'<desc id="{name}-desc">{escape(description)}</desc>',
            *body,
            "</svg>",
        ]
    )


def _axes(top: int, labels: list[str], every: int) -> list[str]:
    """Draw the grid with 0, half and the top value, and every `every`-th label."""
    plot_height = HEIGHT - TOP - BOTTOM
    parts = []
    for share in (0.0, 0.5, 1.0):
        y = TOP + plot_height * (1 - share)
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" y1="{_number(y)}"'
            f' x2="{WIDTH - RIGHT}" y2="{_number(y)}" stroke="#d0d5dd"/>'
        )
        value = top * share
        parts.append(
            f'<text class="chart-axis" x="{LEFT - 6}" y="{_number(y + 4)}"'
            f' text-anchor="end" font-size="11">{_number(value)}</text>'
        )
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    for index, label in enumerate(labels):
        if index % every:
            continue
        x = LEFT + slot * (index + 0.5)
        parts.append(
            f'<text class="chart-axis" x="{_number(x)}" y="{HEIGHT - BOTTOM + 16}"'
            f' text-anchor="middle" font-size="11">{escape(label)}</text>'
        )
    return parts


def _legend(series: list[Series]) -> list[str]:
    parts = []
    for index, item in enumerate(series):
        x = LEFT + index * 150
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect class="series-{index}" x="{x}" y="{HEIGHT - 16}" width="12"'
            f' height="12" fill="{colour}"/>'
            f'<text class="chart-legend" x="{x + 17}" y="{HEIGHT - 6}"'
            f' font-size="12">{escape(item.name)}</text>'
        )
    return parts


def _label_step(count: int, most: int = 12) -> int:
    """Return how many labels to skip so that at most `most` are written."""
    return max(1, math.ceil(count / most))


def bar_chart(
    chart_id: str, title: str, description: str, labels: list[str], series: list[Series]
) -> str:
    """Return a grouped bar chart: one group per label, one bar per series."""
    top = nice_maximum(max((v for s in series for v in s.values), default=0))
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    body = _axes(top, labels, _label_step(len(labels)))
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        for position, value in enumerate(item.values):
            height = plot_height * value / top
            x = LEFT + slot * position + slot * 0.1 + bar * index
            body.append(
                f'<rect class="series-{index}" x="{_number(x)}"'
                f' y="{_number(TOP + plot_height - height)}" width="{_number(bar)}"'
                f' height="{_number(height)}" fill="{colour}">'
                f"<title>{escape(labels[position])}: {escape(item.name)}"
                f" {value}</title></rect>"
            )
    body += _legend(series)
    return _frame(chart_id, title, description, body)


def line_chart(
    chart_id: str, title: str, description: str, labels: list[str], series: list[Series]
) -> str:
    """Return a line chart: one line per series across the labels."""
    top = nice_maximum(max((v for s in series for v in s.values), default=0))
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    body = _axes(top, labels, _label_step(len(labels)))
    for index, item in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(
            f"{_number(LEFT + slot * (position + 0.5))},"
            f"{_number(TOP + plot_height * (1 - value / top))}"
            for position, value in enumerate(item.values)
        )
        body.append(
            f'<polyline class="series-{index}" points="{points}" fill="none"'
            f' stroke="{colour}" stroke-width="2"/>'
        )
    body += _legend(series)
    return _frame(chart_id, title, description, body)


def heat_bar(value: int, most: int) -> str:
    """Return a small bar as wide as `value` is of `most`, for a heat list row.

    It is hidden from screen readers: the number it draws stands next to it.
    """
    share = value / most if most > 0 else 0.0
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="heat-bar" viewBox="0 0 100 10"'
        ' preserveAspectRatio="none" aria-hidden="true" focusable="false">'
        '<rect class="heat-track" width="100" height="10" fill="#e8ecf1"/>'
        f'<rect class="heat-fill" width="{_number(100 * share)}" height="10"'
        f' fill="{PALETTE[0]}"/></svg>'
    )
