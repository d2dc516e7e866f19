"""Small inline SVG charts for the report: no scripts, no fetches, readable without a browser extension."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

PALETTE = ("#1a7f37", "#cf222e", "#8250df", "#0969da", "#9a6700")


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[float, float]]
    colour: str


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def line_chart(
    series: list[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 860,
    height: int = 240,
    markers: list[tuple[float, str]] | None = None,
    x_ticks: list[tuple[float, str]] | None = None,
) -> str:
    """An SVG line chart; ``markers`` draw labelled vertical lines (e.g. change events)."""
    left, right, top, bottom = 56, 16, 44, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for s in series for x, _ in s.points] + [m[0] for m in markers or []]
    ys = [y for s in series for _, y in s.points]
    x_min, x_max = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_max == x_min:
        x_max = x_min + 1
    y_max = _nice_max(max(ys) if ys else 1.0)

    def px(x: float) -> float:
        return left + (x - x_min) / (x_max - x_min) * plot_w

    def py(y: float) -> float:
        return top + plot_h - y / y_max * plot_h

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for i in range(5):
        y = y_max * i / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end" class="tick">{y:g}</text>')
    for x, label in x_ticks or [
        (x_min + (x_max - x_min) * i / 5, f"{x_min + (x_max - x_min) * i / 5:.0f}") for i in range(6)
    ]:
        out.append(f'<text x="{px(x):.1f}" y="{height - 22}" text-anchor="middle" class="tick">{escape(label)}</text>')
    out.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle" class="axis">{escape(x_label)}</text>'
    )
    out.append(
        f'<text x="12" y="{top + plot_h / 2:.0f}" text-anchor="middle" class="axis" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.0f})">{escape(y_label)}</text>'
    )
    for x, label in markers or []:
        out.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{top + plot_h}" class="marker">'
            f"<title>{escape(label)}</title></line>"
        )
    for s in series:
        if not s.points:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2">'
            f"<title>{escape(s.name)}</title></polyline>"
        )
        for x, y in s.points if len(s.points) <= 12 else []:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{s.colour}"/>')
    lx = left + 8
    for s in series:
        out.append(
            f'<rect x="{lx}" y="{top - 12}" width="10" height="3" fill="{s.colour}"/>'
            f'<text x="{lx + 14}" y="{top - 8}" class="legend">{escape(s.name)}</text>'
        )
        lx += 24 + 7 * len(s.name)
    out.append("</svg>")
    return "".join(out)
