"""A small step-line chart written as SVG, so benchmark plots need no plotting package."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 460, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 15, 30, 45


@dataclass
class Series:
    label: str
    colour: str
    points: list[tuple[float, float]]  # (x, y), x increasing; drawn as steps
    width: float = 1.0
    dashed: bool = False
    legend: bool = True


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / count if high > low else 1.0
    magnitude = 10 ** math.floor(math.log10(step))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= step), default=step)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def panel(title: str, x_label: str, y_label: str, series: list[Series]) -> str:
    """One chart as SVG elements, drawn in a WIDTH x HEIGHT box."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    x_low, x_high = 0.0, max(xs)
    y_low, y_high = min(ys), max(ys)
    pad = (y_high - y_low) * 0.05 or 0.05
    y_low, y_high = y_low - pad, y_high + pad

    def sx(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * (WIDTH - LEFT - RIGHT)

    def sy(y: float) -> float:
        return TOP + (y_high - y) / (y_high - y_low) * (HEIGHT - TOP - BOTTOM)

    parts = []
    parts.append(f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>')
    for x in _ticks(x_low, x_high):
        parts.append(f'<line x1="{sx(x):.1f}" y1="{TOP}" x2="{sx(x):.1f}" y2="{HEIGHT - BOTTOM}" stroke="#eee"/>')
        parts.append(f'<text x="{sx(x):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{x:g}</text>')
    for y in _ticks(y_low, y_high):
        parts.append(f'<line x1="{LEFT}" y1="{sy(y):.1f}" x2="{WIDTH - RIGHT}" y2="{sy(y):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 5}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.3g}</text>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(
        f'<text transform="translate(14,{(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    for s in series:
        path = []
        for i, (x, y) in enumerate(s.points):
            if i:
                path.append(f"L{sx(x):.1f},{sy(s.points[i - 1][1]):.1f}")
            path.append(f"{'L' if i else 'M'}{sx(x):.1f},{sy(y):.1f}")
        dash = ' stroke-dasharray="5,4"' if s.dashed else ""
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{s.colour}" stroke-width="{s.width}"{dash}/>')
    legend = [s for s in series if s.legend]
    for i, s in enumerate(legend):
        y = TOP + 8 + i * 15
        dash = ' stroke-dasharray="5,4"' if s.dashed else ""
        parts.append(
            f'<line x1="{WIDTH - 185}" y1="{y}" x2="{WIDTH - 165}" y2="{y}" stroke="{s.colour}" stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{WIDTH - 160}" y="{y + 4}">{escape(s.label)}</text>')
    return "\n".join(parts)


def page(panels: list[str], columns: int = 2) -> str:
    """Panels in rows of ``columns``, in one SVG document."""
    rows = -(-len(panels) // columns)
    width, height = WIDTH * min(columns, len(panels)), HEIGHT * rows
    body = "\n".join(
        f'<g transform="translate({i % columns * WIDTH},{i // columns * HEIGHT})" font-family="sans-serif" '
        f'font-size="11">\n{p}\n</g>'
        for i, p in enumerate(panels)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">\n'
        f'<rect width="100%" height="100%" fill="white"/>\n{body}\n</svg>\n'
    )
