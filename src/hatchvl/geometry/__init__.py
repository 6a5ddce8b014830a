"""Geometry core: camera maths, PaStA overlap matrices, ActoR motions and the action text.

numpy only, no model code. Conventions are those of docs/conventions.md (OpenCV cameras, 4x4
camera-to-world poses in metres, K in pixels of its own image, z-depth in metres).
"""

from hatchvl.geometry.actions_text import PairActions, ParsedActions, format_actions, parse_actions
from hatchvl.geometry.camera import (
    backproject_depth,
    check_intrinsics,
    check_pose,
    intrinsics_from_fov,
    project_points,
    relative_pose,
    scale_intrinsics,
    unproject_points,
)
from hatchvl.geometry.motion import (
    Action,
    Motion,
    actions_from_poses,
    all_pairs,
    compose_actions,
    relative_motion,
)
from hatchvl.geometry.overlap import (
    landing_pixels,
    overlap_matrices,
    overlap_matrix,
    symmetric_overlap,
    symmetric_overlaps,
)

__all__ = [
    "Action",
    "Motion",
    "PairActions",
    "ParsedActions",
    "actions_from_poses",
    "all_pairs",
    "backproject_depth",
    "check_intrinsics",
    "check_pose",
    "compose_actions",
    "format_actions",
    "intrinsics_from_fov",
    "landing_pixels",
    "overlap_matrices",
    "overlap_matrix",
    "parse_actions",
    "project_points",
    "relative_motion",
    "relative_pose",
    "scale_intrinsics",
    "symmetric_overlap",
    "symmetric_overlaps",
    "unproject_points",
]
