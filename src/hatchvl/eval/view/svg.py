"""The top-down SVG of a camera plan (plan.py): true cameras as blue wedges, each written pair's predicted
pose in orange (a dashed line from the camera it starts at), the target actions' pose as a green ring.

The plan is fitted into a square with the first view's heading pointing up the picture (plan y up, x to
the right, one scale for both axes); a bar under the legend gives the scale. Views are numbered from 1, as the prompts
number the images.
"""

from __future__ import annotations

import math
from html import escape

from hatchvl.eval.view.plan import Plan, PlanPose

SIZE, PAD, LEGEND = 260, 24, 38  # pixels: the square, its margin, the legend band under it
BARS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)  # metres a scale bar may show: the first at least 12 px
TRUE, PREDICTED, TARGET = "#1f5fa8", "#e07b00", "#2a9d3a"


def _poses(plan: Plan) -> list[PlanPose]:
    return [*plan.cameras, *(p.predicted for p in plan.pairs if p.predicted is not None),
            *(p.target for p in plan.pairs if p.target is not None)]


def fit(plan: Plan) -> tuple[float, float, float]:
    """(scale in px per metre, plan x and y of the picture's centre): every pose inside the margin; a span
    under 1 m is drawn as 1 m."""
    poses = _poses(plan)
    xs, ys = [p.x_m for p in poses], [p.y_m for p in poses]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    return (SIZE - 2 * PAD) / span, (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2


def _pixel(pose: PlanPose, scale: float, cx: float, cy: float) -> tuple[float, float]:
    return SIZE / 2 + (pose.x_m - cx) * scale, SIZE / 2 - (pose.y_m - cy) * scale


def _ahead(x: float, y: float, heading_deg: float, length: float) -> tuple[float, float]:
    h = math.radians(heading_deg)
    return x + length * math.sin(h), y - length * math.cos(h)


def _f(value: float) -> str:
    return f"{value:.1f}"


def _wedge(x: float, y: float, heading: float) -> str:
    left, right = _ahead(x, y, heading - 30, 18), _ahead(x, y, heading + 30, 18)
    return " ".join(f"{_f(a)},{_f(b)}" for a, b in ((x, y), left, right))


def plan_svg(plan: Plan) -> str:
    """The SVG document of a plan."""
    scale, cx, cy = fit(plan)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE + LEGEND}" '
             f'viewBox="0 0 {SIZE} {SIZE + LEGEND}" font-family="sans-serif" font-size="10">',
             f'<rect width="{SIZE}" height="{SIZE}" fill="#fafafa" stroke="#ddd"/>']
    for pair in plan.pairs:
        for kind, pose, colour in (("target", pair.target, TARGET), ("predicted", pair.predicted, PREDICTED)):
            if pose is None:
                continue
            start = plan.cameras[pair.src if kind == "target" else pair.written[0]]
            end = pair.dst if kind == "target" else pair.written[1]
            sx, sy = _pixel(start, scale, cx, cy)
            x, y = _pixel(pose, scale, cx, cy)
            hx, hy = _ahead(x, y, pose.heading_deg, 14)
            name = escape(f"{pair.src + 1}-{pair.dst + 1}")
            dash = "2,2" if kind == "target" else "5,3"
            fill = "none" if kind == "target" else colour
            parts.append(
                f'<g class="{kind}" data-pair="{name}"><line x1="{_f(sx)}" y1="{_f(sy)}" x2="{_f(x)}" y2="{_f(y)}" '
                f'stroke="{colour}" stroke-dasharray="{dash}" stroke-width="1"/>'
                f'<circle cx="{_f(x)}" cy="{_f(y)}" r="4" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>'
                f'<line class="heading" x1="{_f(x)}" y1="{_f(y)}" x2="{_f(hx)}" y2="{_f(hy)}" stroke="{colour}" '
                f'stroke-width="2"/>'
                + (f'<text x="{_f(x + 6)}" y="{_f(y + 12)}" fill="{colour}">'
                   f'{escape(f"{start_label(pair.written)}")}</text>' if kind == "predicted" else "")
                + f'<title>{escape(kind)} pose of image {end + 1}</title></g>')
    for k, camera in enumerate(plan.cameras):
        x, y = _pixel(camera, scale, cx, cy)
        parts.append(f'<g class="true" data-view="{k + 1}"><polygon points="{_wedge(x, y, camera.heading_deg)}" '
                     f'fill="{TRUE}" fill-opacity="0.25" stroke="{TRUE}"/>'
                     f'<circle cx="{_f(x)}" cy="{_f(y)}" r="4" fill="{TRUE}"/>'
                     f'<text x="{_f(x - 12)}" y="{_f(y - 6)}" fill="{TRUE}" font-weight="bold">{k + 1}</text>'
                     f'<title>true pose of image {k + 1}</title></g>')
    metres = next(m for m in BARS if m * scale >= 12 or m == BARS[-1])
    legend_y, bar_y = SIZE + 15, SIZE + 31
    parts += [f'<line x1="8" y1="{bar_y - 3}" x2="{_f(8 + metres * scale)}" y2="{bar_y - 3}" stroke="#555" '
              f'stroke-width="2"/><text x="{_f(14 + metres * scale)}" y="{bar_y}" fill="#555">{metres:g} m</text>',
              f'<circle cx="8" cy="{legend_y - 3}" r="4" fill="{TRUE}"/><text x="15" y="{legend_y}">true</text>',
              f'<circle cx="52" cy="{legend_y - 3}" r="4" fill="{PREDICTED}"/>'
              f'<text x="59" y="{legend_y}">predicted (from → to)</text>',
              f'<circle cx="178" cy="{legend_y - 3}" r="4" fill="none" stroke="{TARGET}" stroke-width="1.5"/>'
              f'<text x="185" y="{legend_y}">target</text>', "</svg>"]
    return "\n".join(parts) + "\n"


def start_label(written: tuple[int, int]) -> str:
    """'1→2': a written pair in the images' numbering (from 1)."""
    return f"{written[0] + 1}→{written[1] + 1}"
