"""The evaluation record (`EvalItem`), a read benchmark (`Benchmark`) and the benchmark registry.

Benchmark facts come from docs/evaluation.md: SPAR-Bench-MV and -SI are defined here, once, from
the 20 SPAR task names; SPAR levels, MindCube settings and MMSI-Bench's paper groups likewise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hatchvl.data.format import Sample

# An image as the reader found it: encoded bytes held in memory, or a file on disk (decoded on use).
ImageSource = Path | bytes

BENCH_NAMES = ("spar-mv", "spar-si", "mindcube-tiny", "mmsi", "synthetic")

# Scoring kinds: which official extraction and scoring rule an item is scored with (extract.py, score.py).
SPAR_CHOICE = "spar_choice"
SPAR_NUMBER_FIRST = "spar_number_first"  # single-view numeric tasks: the first number in the output
SPAR_NUMBER_LAST = "spar_number_last"  # multi-view (_mv) numeric tasks: the last number, -1 if none
SPAR_VIEW_CHANGE = "spar_view_change"
MINDCUBE_LETTER = "mindcube_letter"
MMSI_LETTER = "mmsi_letter"
HATCH_CHOICE, HATCH_NUMBER, HATCH_VIEW_CHANGE = "hatch_choice", "hatch_number", "hatch_view_change"
SCORING_KINDS = (
    SPAR_CHOICE, SPAR_NUMBER_FIRST, SPAR_NUMBER_LAST, SPAR_VIEW_CHANGE, MINDCUBE_LETTER, MMSI_LETTER,
    HATCH_CHOICE, HATCH_NUMBER, HATCH_VIEW_CHANGE,
)

# --- SPAR-Bench: 20 tasks -------------------------------------------------------------------------
SPAR_NUMBER_TASKS = (
    "depth_prediction_oc", "depth_prediction_oo", "distance_prediction_oc", "distance_prediction_oo",
    "depth_prediction_oc_mv", "depth_prediction_oo_mv", "distance_prediction_oc_mv", "distance_prediction_oo_mv",
)
SPAR_CHOICE_TASKS = (
    "obj_spatial_relation_oo", "obj_spatial_relation_oc_mv", "obj_spatial_relation_oo_mv",
    "spatial_imagination_oc", "spatial_imagination_oo", "spatial_imagination_oc_mv", "spatial_imagination_oo_mv",
    "position_matching", "camera_motion_infer", "distance_infer_center_oo", "distance_infer_center_oo_mv",
)
SPAR_VIEW_CHANGE_TASK = "view_change_infer"
SPAR_TASKS = SPAR_NUMBER_TASKS + SPAR_CHOICE_TASKS + (SPAR_VIEW_CHANGE_TASK,)
_MULTI_VIEW_EXTRA = ("position_matching", "camera_motion_infer", SPAR_VIEW_CHANGE_TASK)
SPAR_MV_TASKS = tuple(t for t in SPAR_TASKS if t.endswith("_mv") or t in _MULTI_VIEW_EXTRA)
SPAR_SI_TASKS = tuple(t for t in SPAR_TASKS if t not in SPAR_MV_TASKS)
# Levels by task name. The SPAR authors' own aggregation drops view_change_infer from "middle"
# (score.spar_levels); VLMEvalKit keeps it.
SPAR_LEVELS = {
    "low": SPAR_NUMBER_TASKS,
    "middle": ("position_matching", "camera_motion_infer", SPAR_VIEW_CHANGE_TASK),
    "high": tuple(t for t in SPAR_CHOICE_TASKS if t not in ("position_matching", "camera_motion_infer")),
}
# Sentence the official prompt adds before the letter instruction for these two tasks.
SPAR_BOX_TASKS = ("position_matching", "camera_motion_infer")

# --- MindCube-Tiny -------------------------------------------------------------------------------
MINDCUBE_SETTINGS = ("around", "rotation", "among")  # from the id prefix ("aroundnew_..." is around)
MINDCUBE_LETTERS = "ABCDE"

# --- MMSI-Bench ----------------------------------------------------------------------------------
MMSI_LETTERS = "ABCD"
MMSI_GROUPS = ("Positional", "Attribute", "Motion", "MSR")  # the paper's groups of the 11 question types


def mmsi_group(question_type: str) -> str | None:
    """The paper's group of an MMSI-Bench question type ("Positional Relationship (Cam.–Obj.)" ->
    "Positional"), or None for a type outside the 11."""
    for prefix, group in (("Positional Relationship", "Positional"), ("Attribute", "Attribute"),
                          ("Motion", "Motion"), ("MSR", "MSR")):
        if question_type.startswith(prefix):
            return group
    return None


def check_bench(name: str) -> str:
    """Return name if it is a known benchmark, else raise ValueError listing the known ones."""
    if name not in BENCH_NAMES:
        raise ValueError(f"unknown benchmark {name!r}; expected one of {', '.join(BENCH_NAMES)}")
    return name


@dataclass(frozen=True)
class EvalItem:
    """One benchmark question.

    id: the benchmark's item id, as a string (SPAR's integer ids become "17").
    images: in the order the model sees them. question: the text as published (MindCube, MMSI and
    SPAR keep their options inside it). answer: the truth as published (a letter, a number in metres,
    a `key:value,...` view change). category: SPAR task, MindCube setting, MMSI question type or the
    synthetic category. scoring: one of SCORING_KINDS. options: the option letters offered (MindCube,
    MMSI-Bench and synthetic choice items; empty otherwise: SPAR's options stay unparsed in its
    question, which its official rule does not need). sample: the hatchvl record of a synthetic item
    (its prompt is built from it), None elsewhere.
    """

    id: str
    images: tuple[ImageSource, ...]
    question: str
    answer: str
    category: str
    scoring: str
    options: tuple[str, ...] = ()
    sample: Sample | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.scoring not in SCORING_KINDS:
            raise ValueError(f"item {self.id!r}: unknown scoring kind {self.scoring!r}")


@dataclass(frozen=True)
class Benchmark:
    """A benchmark read from disk: its items in file order, and what the reader found worth reporting
    (files read, image root, depth units assumed)."""

    name: str
    items: tuple[EvalItem, ...]
    notes: tuple[str, ...] = ()
