"""Procedural rooms for the built-in synthetic dataset: the scene records and how they are drawn.

A room is the box [0, sx] x [0, sy] x [0, sz] in metres, world up +z. Its floor is a two-tone checker,
each wall has its own colour and stripe period, the ceiling is plain, so that views of different walls
look different. Objects (boxes, spheres, cylinders) stand on the floor; their footprint circles never
overlap, so no two objects interpenetrate. Cameras stand inside the room at eye height.

Everything random takes a numpy Generator: the same generator state gives the same scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WORLD_UP = (0.0, 0.0, 1.0)
SHAPES = ("box", "sphere", "cylinder")
PLURALS = {"box": "boxes", "sphere": "spheres", "cylinder": "cylinders"}
OBJECT_COLOURS = {
    "red": (0.82, 0.10, 0.10),
    "green": (0.12, 0.62, 0.18),
    "blue": (0.10, 0.25, 0.85),
    "yellow": (0.95, 0.85, 0.10),
    "orange": (1.00, 0.50, 0.05),
    "purple": (0.50, 0.15, 0.65),
    "white": (0.95, 0.95, 0.95),
    "black": (0.07, 0.07, 0.07),
}
WALL_COLOURS = (
    (0.78, 0.70, 0.56),
    (0.55, 0.65, 0.74),
    (0.62, 0.73, 0.57),
    (0.80, 0.60, 0.58),
    (0.66, 0.66, 0.66),
    (0.62, 0.56, 0.74),
    (0.82, 0.77, 0.46),
    (0.48, 0.63, 0.61),
)
FLOOR_TONES = (
    ((0.55, 0.40, 0.26), (0.45, 0.31, 0.19)),
    ((0.70, 0.70, 0.68), (0.40, 0.40, 0.42)),
    ((0.62, 0.52, 0.38), (0.74, 0.66, 0.50)),
)
CEILING_RGB = (0.90, 0.90, 0.86)
OBJECT_GAP_M = 0.1  # free space between footprints, and between a footprint and a wall


@dataclass(frozen=True)
class SceneObject:
    """One object standing on the floor.

    centre: centre of its bounding box in world metres; size: full extents (x, y, z) along its own axes
    in metres (sphere: 2r, 2r, 2r; cylinder: 2r, 2r, height, axis vertical); yaw_deg: rotation of a box
    about world up, counter-clockwise seen from above (0 for spheres and cylinders).
    """

    shape: str
    colour: str
    centre: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw_deg: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    @property
    def rgb(self) -> tuple[float, float, float]:
        return OBJECT_COLOURS[self.colour]

    @property
    def footprint_radius(self) -> float:
        """Radius (m) of the vertical cylinder about the centre that contains the object."""
        return math.hypot(self.size[0], self.size[1]) / 2 if self.shape == "box" else self.size[0] / 2

    @property
    def bounding_radius(self) -> float:
        """Radius (m) of the sphere about the centre that contains the object."""
        if self.shape == "sphere":
            return self.size[0] / 2
        return math.hypot(self.footprint_radius, self.size[2] / 2)


@dataclass(frozen=True)
class Room:
    """The room box [0, sx] x [0, sy] x [0, sz] (metres) and its surface patterns.

    Walls are ordered x = 0, x = sx, y = 0, y = sy; each has a colour and a stripe period (m).
    """

    size: tuple[float, float, float]
    wall_rgb: tuple[tuple[float, float, float], ...]
    wall_stripe_m: tuple[float, ...]
    floor_rgb: tuple[tuple[float, float, float], tuple[float, float, float]]
    floor_tile_m: float
    ceiling_rgb: tuple[float, float, float] = CEILING_RGB


@dataclass(frozen=True)
class Scene:
    """A room, its objects and a directional light (unit vector pointing towards the light)."""

    room: Room
    objects: tuple[SceneObject, ...]
    light_dir: tuple[float, float, float]
    up: tuple[float, float, float] = WORLD_UP


def _place(objects: list[SceneObject], shape: str, colour: str, room_xy, rng: np.random.Generator):
    """Draw a size and try positions until the footprint is free; None after 200 tries."""
    yaw = 0.0
    if shape == "box":
        size = (rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.8), rng.uniform(0.3, 1.0))
        yaw = float(rng.uniform(0.0, 90.0))
    elif shape == "sphere":
        d = 2 * rng.uniform(0.15, 0.4)
        size = (d, d, d)
    else:
        d = 2 * rng.uniform(0.12, 0.35)
        size = (d, d, rng.uniform(0.3, 1.1))
    size = tuple(float(s) for s in size)
    probe = SceneObject(shape, colour, (0.0, 0.0, 0.0), size, yaw)
    margin = probe.footprint_radius + OBJECT_GAP_M
    for _ in range(200):
        x, y = (float(rng.uniform(margin, extent - margin)) for extent in room_xy)
        clear = all(
            math.hypot(x - o.centre[0], y - o.centre[1]) >= margin + o.footprint_radius for o in objects
        )
        if clear:
            return SceneObject(shape, colour, (x, y, size[2] / 2), size, yaw)
    return None


def make_scene(rng: np.random.Generator, min_objects: int = 4, max_objects: int = 12) -> Scene:
    """A random room with between min_objects and max_objects objects (colour and shape each uniform,
    so duplicates such as two red boxes happen)."""
    if not 1 <= min_objects <= max_objects:
        raise ValueError(f"need 1 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
    size = (float(rng.uniform(4.5, 7.5)), float(rng.uniform(4.5, 7.5)), float(rng.uniform(2.6, 3.2)))
    walls = rng.choice(len(WALL_COLOURS), size=4, replace=False)
    room = Room(
        size=size,
        wall_rgb=tuple(WALL_COLOURS[w] for w in walls),
        wall_stripe_m=tuple(float(p) for p in rng.uniform(0.3, 1.2, size=4)),
        floor_rgb=FLOOR_TONES[rng.integers(len(FLOOR_TONES))],
        floor_tile_m=float(rng.uniform(0.4, 0.8)),
    )
    colours = list(OBJECT_COLOURS)
    objects: list[SceneObject] = []
    for _ in range(int(rng.integers(min_objects, max_objects + 1))):
        obj = _place(objects, SHAPES[rng.integers(3)], colours[rng.integers(len(colours))], size[:2], rng)
        if obj is not None:
            objects.append(obj)
    light = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), 1.0])
    light_dir = tuple(float(c) for c in light / np.linalg.norm(light))
    return Scene(room, tuple(objects), light_dir)


def camera_pose(position, heading_deg: float, pitch_deg: float) -> np.ndarray:
    """Camera-to-world pose (4, 4) of an OpenCV camera at position (3,) metres, world up +z.

    heading_deg: direction of the optical axis seen from above, counter-clockwise from +x;
    pitch_deg: angle of the optical axis above the horizontal. No roll.
    Columns of the rotation: right = forward x up / |.|, down = forward x right, forward.
    """
    h, p = math.radians(heading_deg), math.radians(pitch_deg)
    forward = np.array([math.cos(p) * math.cos(h), math.cos(p) * math.sin(h), math.sin(p)])
    right = np.cross(forward, WORLD_UP)
    right /= np.linalg.norm(right)
    c2w = np.eye(4)
    c2w[:3, :3] = np.stack([right, np.cross(forward, right), forward], axis=1)
    c2w[:3, 3] = position
    return c2w


def _free_position(scene: Scene, rng: np.random.Generator, clearance: float) -> tuple[float, float]:
    sx, sy, _ = scene.room.size
    for _ in range(500):
        x, y = float(rng.uniform(clearance, sx - clearance)), float(rng.uniform(clearance, sy - clearance))
        if all(math.hypot(x - o.centre[0], y - o.centre[1]) >= o.footprint_radius + clearance
               for o in scene.objects):
            return x, y
    raise ValueError("no free floor position for a camera: the room is too crowded")


def sample_cameras(
    scene: Scene,
    rng: np.random.Generator,
    count: int,
    eye_height_m: tuple[float, float] = (1.3, 1.7),
    pitch_deg: tuple[float, float] = (-20.0, 5.0),
    aim_spread_deg: float = 40.0,
    clearance_m: float = 0.4,
) -> list[np.ndarray]:
    """count camera-to-world poses (4, 4) inside the room.

    Each camera stands at a random free floor position (clearance_m from walls and object footprints)
    at a uniform eye height, looks towards one of two focus points of the scene (object centres) give
    or take aim_spread_deg of heading, with a uniform pitch. Focusing raises the chance that views
    overlap; the headings are still spread over every direction because positions are random.
    """
    focus = [o.centre for o in scene.objects] or [tuple(s / 2 for s in scene.room.size)]
    targets = [focus[k] for k in rng.choice(len(focus), size=min(2, len(focus)), replace=False)]
    poses = []
    for k in range(count):
        x, y = _free_position(scene, rng, clearance_m)
        tx, ty, _ = targets[k % len(targets)]
        heading = math.degrees(math.atan2(ty - y, tx - x)) + rng.uniform(-aim_spread_deg, aim_spread_deg)
        z = rng.uniform(*eye_height_m)
        poses.append(camera_pose((x, y, z), heading, rng.uniform(*pitch_deg)))
    return poses


def scene_to_json(scene: Scene) -> dict:
    """JSON-ready dict of a scene (lists for tuples)."""
    room = scene.room
    return {
        "up": list(scene.up),
        "light_dir": list(scene.light_dir),
        "room": {
            "size": list(room.size),
            "wall_rgb": [list(c) for c in room.wall_rgb],
            "wall_stripe_m": list(room.wall_stripe_m),
            "floor_rgb": [list(c) for c in room.floor_rgb],
            "floor_tile_m": room.floor_tile_m,
            "ceiling_rgb": list(room.ceiling_rgb),
        },
        "objects": [
            {"shape": o.shape, "colour": o.colour, "centre": list(o.centre), "size": list(o.size),
             "yaw_deg": o.yaw_deg}
            for o in scene.objects
        ],
    }


def scene_from_json(data: dict) -> Scene:
    """Inverse of scene_to_json."""
    r = data["room"]
    room = Room(
        size=tuple(r["size"]),
        wall_rgb=tuple(tuple(c) for c in r["wall_rgb"]),
        wall_stripe_m=tuple(r["wall_stripe_m"]),
        floor_rgb=tuple(tuple(c) for c in r["floor_rgb"]),
        floor_tile_m=r["floor_tile_m"],
        ceiling_rgb=tuple(r["ceiling_rgb"]),
    )
    objects = tuple(
        SceneObject(o["shape"], o["colour"], tuple(o["centre"]), tuple(o["size"]), o["yaw_deg"])
        for o in data["objects"]
    )
    return Scene(room, objects, tuple(data["light_dir"]), tuple(data["up"]))
