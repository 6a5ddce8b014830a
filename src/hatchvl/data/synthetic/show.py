"""`hatchvl data show`: one picture of a sample.

Top row: the views side by side. Where the sample has geometry, each PaStA cell of image 1 gets a colour
and a number, and each cell of every other image is painted with the colour and number of the image-1
cell it overlaps most (argmax_i S[i, j] of the symmetric overlap S), more opaque where the overlap is
stronger. Bottom row: a top-down map of the room (objects from the scene file when the dataset has one,
cameras with position, heading and field of view) and the question, options, answer and ActoR target.
Drawn with matplotlib's object API (Agg canvas; no pyplot, no display).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Polygon, Rectangle

from hatchvl.data.badfiles import BadSampleError, find_bad_samples
from hatchvl.data.format import LETTERS, Sample, load_depth, load_image, read_manifest
from hatchvl.data.synthetic.scene import scene_from_json
from hatchvl.geometry.actions_text import format_actions
from hatchvl.geometry.camera import cell_of_pixels
from hatchvl.geometry.overlap import symmetric_overlap
from hatchvl.io import read_json

VIEW_COLOURS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628")


def _cell_bounds(size: int, grid: int) -> list[tuple[float, float]]:
    """Pixel-edge extent (start, stop) of each cell along one axis, in imshow coordinates."""
    cells = cell_of_pixels(size, size, grid)[0]
    return [(np.flatnonzero(cells == c)[0] - 0.5, np.flatnonzero(cells == c)[-1] + 0.5) for c in range(grid)]


def _paint_cells(ax, shape, grid, colours, alphas, labels) -> None:
    rows, cols = _cell_bounds(shape[0], grid), _cell_bounds(shape[1], grid)
    for cell in range(grid * grid):
        if alphas[cell] <= 0:
            continue
        (top, bottom), (left, right) = rows[cell // grid], cols[cell % grid]
        ax.add_patch(Rectangle((left, top), right - left, bottom - top, color=colours[cell], alpha=alphas[cell]))
        ax.text((left + right) / 2, (top + bottom) / 2, labels[cell], ha="center", va="center", fontsize=7,
                color="white", alpha=min(1.0, 2 * alphas[cell]))


def _overlap_overlays(root, sample: Sample, grid: int):
    """(colours (n², 4), alphas (n²,), labels) per view from the overlap with image 1."""
    n2 = grid * grid
    palette = matplotlib.colormaps["tab20"](np.arange(n2) % 20)
    depths = [load_depth(root, p) for p in sample.depths]
    overlaps = [symmetric_overlap(depths[0], sample.K[0], sample.c2w[0], depths[k], sample.K[k], sample.c2w[k],
                                  grid=grid) for k in range(1, sample.num_views)]
    seen = np.max([s.max(axis=1) for s in overlaps], axis=0)
    labels = [str(i + 1) for i in range(n2)]
    layers = [(palette, np.where(seen > 0.01, 0.3, 0.0), labels)]
    for s in overlaps:
        best = np.argmax(s, axis=0)
        strength = s[best, np.arange(n2)]
        alphas = np.where(strength > 0.01, 0.1 + 0.35 * np.clip(strength / 0.3, 0, 1), 0.0)
        layers.append((palette[best], alphas, [labels[i] for i in best]))
    return layers


def _plane_basis(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two horizontal axes (east, north) for a top-down map; x and y when up is +z."""
    east = np.array([1.0, 0, 0]) - up[0] * up
    if np.linalg.norm(east) < 1e-6:
        east = np.array([0, 1.0, 0]) - up[1] * up
    east /= np.linalg.norm(east)
    return east, np.cross(up, east)


def _draw_map(ax, root, sample: Sample, widths: list[int]) -> None:
    ax.set_aspect("equal")
    ax.set_title("top-down map (metres)", fontsize=9)
    if sample.c2w is None:
        ax.text(0.5, 0.5, "no camera geometry", ha="center", transform=ax.transAxes)
        return
    up = sample.up if sample.up is not None else np.array([0.0, 0.0, 1.0])
    east, north = _plane_basis(up)
    scene_file = Path(root) / "scenes" / sample.scene_id / "scene.json"
    if scene_file.is_file():
        scene = scene_from_json(read_json(scene_file))
        sx, sy, _ = scene.room.size
        ax.add_patch(Rectangle((0, 0), sx, sy, fill=False, lw=2, color="0.3"))
        for obj in scene.objects:
            x, y = obj.centre[0], obj.centre[1]
            if obj.shape == "box":
                c, s = math.cos(math.radians(obj.yaw_deg)), math.sin(math.radians(obj.yaw_deg))
                hx, hy = obj.size[0] / 2, obj.size[1] / 2
                square = ((-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy))
                corners = [(x + c * a - s * b, y + s * a + c * b) for a, b in square]
                patch = Polygon(corners, closed=True)
            else:
                patch = Circle((x, y), obj.size[0] / 2)
            patch.set(facecolor=obj.rgb, edgecolor="0.2", hatch="//" if obj.shape == "cylinder" else None)
            ax.add_patch(patch)
            ax.text(x, y - obj.size[1] / 2 - 0.05, obj.name, ha="center", va="top", fontsize=6)
    for k in range(sample.num_views):
        centre, forward = sample.c2w[k][:3, 3], sample.c2w[k][:3, 2]
        x, y = centre @ east, centre @ north
        yaw = math.atan2(forward @ north, forward @ east)
        half_fov = math.atan(widths[k] / 2 / sample.K[k][0, 0])
        colour = VIEW_COLOURS[k % len(VIEW_COLOURS)]
        for side in (-1, 1):
            a = yaw + side * half_fov
            ax.plot([x, x + 0.8 * math.cos(a)], [y, y + 0.8 * math.sin(a)], color=colour, lw=0.8)
        ax.arrow(x, y, 0.5 * math.cos(yaw), 0.5 * math.sin(yaw), width=0.03, color=colour)
        ax.text(x - 0.3 * math.cos(yaw), y - 0.3 * math.sin(yaw), str(k + 1), color=colour, fontsize=10,
                fontweight="bold", ha="center", va="center")
    ax.autoscale_view()


def _wrap(text: str) -> str:
    return textwrap.fill(text, 70)


def sample_text(sample: Sample) -> str:
    """The text beside a sample's views: id, category, question, lettered options, answer (and actions)."""
    lines = [f"{sample.id}   [{sample.category}]", "", _wrap(sample.question)]
    lines += [_wrap(f"{LETTERS[i]}. {option}") for i, option in enumerate(sample.options)]
    answer = sample.answer
    if sample.answer_type == "choice":
        answer = f"{answer}. {sample.options[LETTERS.index(answer)]}"
    lines += ["", _wrap(f"Answer: {answer}")]
    if sample.actions:
        lines += ["", _wrap(f"<action>{format_actions(sample.actions)}</action>")]
    return "\n".join(lines)


def show_sample(root: str | Path, index: int, out: str | Path, split: str = "test", grid: int = 4) -> Path:
    """Draw sample `index` of a split to a PNG at out; returns out."""
    out = Path(out)
    if not out.parent.is_dir():
        raise ValueError(f"cannot write {out}: folder {out.parent} does not exist")
    samples = read_manifest(root, split)
    if not 0 <= index < len(samples):
        raise ValueError(f"index {index} out of range: split {split!r} has {len(samples)} samples")
    sample = samples[index]
    bad = find_bad_samples(root, split, [sample], depths=True)
    if bad:
        raise BadSampleError(f"{root}: {bad[0].describe()}")
    views = sample.num_views
    fig = Figure(figsize=(3.2 * max(views, 3), 8.0))
    gs = fig.add_gridspec(2, max(views, 3), height_ratios=(1.0, 1.3))
    layers = _overlap_overlays(root, sample, grid) if sample.depths is not None and views > 1 else None
    widths = []
    for k, path in enumerate(sample.images):
        ax = fig.add_subplot(gs[0, k])
        image = load_image(root, path)
        widths.append(image.shape[1])
        ax.imshow(image)
        if layers is not None:
            _paint_cells(ax, image.shape, grid, *layers[k])
        ax.set_title(f"image {k + 1}", color=VIEW_COLOURS[k % len(VIEW_COLOURS)], fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    split_at = max(1, max(views, 3) // 2)
    _draw_map(fig.add_subplot(gs[1, :split_at]), root, sample, widths)
    text_ax = fig.add_subplot(gs[1, split_at:])
    text_ax.axis("off")
    text_ax.text(0, 1, sample_text(sample), va="top", ha="left", fontsize=8, family="monospace", wrap=True)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return out
