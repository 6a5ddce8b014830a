"""A scalar ray caster written independently of hatchvl.data.synthetic.render, as the tests' ground truth.

One ray at a time, plain quadratics and slabs; instance ids follow the renderer's convention (object k
is k + 1; room surfaces FLOOR, CEILING, then the walls x = 0, x = sx, y = 0, y = sy as -1 ... -6).
"""

import math

import numpy as np


def hit_object(obj, origin, direction):
    """Nearest t > 0 where origin + t direction meets obj, inf if never."""
    c, s = math.cos(math.radians(obj.yaw_deg)), math.sin(math.radians(obj.yaw_deg))
    rot = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
    p, d = rot @ (origin - np.asarray(obj.centre)), rot @ direction
    half = np.asarray(obj.size) / 2
    hits = []
    if obj.shape == "sphere":
        a, b, cc = d @ d, 2 * d @ p, p @ p - half[0] ** 2
        if b * b - 4 * a * cc >= 0:
            hits.append((-b - math.sqrt(b * b - 4 * a * cc)) / (2 * a))
    elif obj.shape == "box":
        lo, hi = -math.inf, math.inf
        for k in range(3):
            if d[k] == 0:
                lo, hi = (lo, hi) if abs(p[k]) <= half[k] else (math.inf, -math.inf)
            else:
                t1, t2 = sorted(((-half[k] - p[k]) / d[k], (half[k] - p[k]) / d[k]))
                lo, hi = max(lo, t1), min(hi, t2)
        if lo <= hi:
            hits.append(lo)
    else:
        a, b, cc = d[0] ** 2 + d[1] ** 2, 2 * (d[0] * p[0] + d[1] * p[1]), p[0] ** 2 + p[1] ** 2 - half[0] ** 2
        if a > 0 and b * b - 4 * a * cc >= 0:
            t = (-b - math.sqrt(b * b - 4 * a * cc)) / (2 * a)
            if abs(p[2] + t * d[2]) <= half[2]:
                hits.append(t)
        for z in (-half[2], half[2]):
            if d[2] != 0:
                t = (z - p[2]) / d[2]
                if (p[0] + t * d[0]) ** 2 + (p[1] + t * d[1]) ** 2 <= half[0] ** 2:
                    hits.append(t)
    return min((t for t in hits if t > 0), default=math.inf)


def hit_room(size, origin, direction):
    """(t, id) where the ray leaves the room box [0, size]."""
    exits = []
    for axis, (low_id, high_id) in enumerate(((-3, -4), (-5, -6), (-1, -2))):
        if direction[axis] > 0:
            exits.append(((size[axis] - origin[axis]) / direction[axis], high_id))
        elif direction[axis] < 0:
            exits.append((-origin[axis] / direction[axis], low_id))
    return min(exits)


def cast(scene, K, c2w, u, v):
    """(z-depth, instance id) seen through pixel centre (u, v) of a camera K (3, 3), c2w (4, 4)."""
    direction = c2w[:3, :3] @ np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
    best = hit_room(scene.room.size, c2w[:3, 3], direction)
    for k, obj in enumerate(scene.objects):
        t = hit_object(obj, c2w[:3, 3], direction)
        if t < best[0]:
            best = (t, k + 1)
    return best  # direction has camera z = 1, so t is the z-depth
