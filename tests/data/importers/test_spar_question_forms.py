"""`parse_conversation` on every SPAR-7M task named in SPAR's data_jsons index, in its `fill` and `select`
forms and in `sentence` and `judge` where the index has them.

Where the texts come from: the records marked REAL below are published SPAR records (SPAR's README, and
SPAR-7M records quoted by projects that train on it); all others are written here in the style of those,
because no published record of that task and form was available. In particular no real `select` record
of a depth or distance task was available: its form (options `A. <number>` lines, a letter answer) is
assumed from the `select` records of the other tasks.
"""

from __future__ import annotations

import pytest

from hatchvl.data.chunks import Skip
from hatchvl.data.importers.spar_questions import parse_conversation

# SPAR's data_jsons/1rxr_1scannet_1scannetpp_1structured3d_7m.json: the answer formats of each task
# (union over the sources scannet, scannetpp, structured3d and rxr).
INDEX = {
    "appearance_order": ("fill", "sentence"),
    "camera_motion_infer": ("fill", "select", "sentence"),
    "depth_prediction_oc": ("fill", "select", "sentence"),
    "depth_prediction_oc_mv": ("fill", "select", "sentence"),
    "depth_prediction_oo": ("fill", "select", "sentence"),
    "depth_prediction_oo_mv": ("fill", "select", "sentence"),
    "distance_infer_center_oc": ("fill", "select", "sentence"),
    "distance_infer_center_oc_mv": ("fill", "select", "sentence"),
    "distance_infer_center_oo": ("fill", "select", "sentence"),
    "distance_infer_center_oo_mv": ("fill", "select", "sentence"),
    "distance_infer_center_oo_video": ("fill", "select", "sentence"),
    "distance_prediction_oc": ("fill", "select", "sentence"),
    "distance_prediction_oc_mv": ("fill", "select", "sentence"),
    "distance_prediction_oo": ("fill", "select", "sentence"),
    "distance_prediction_oo_mv": ("fill", "select", "sentence"),
    "distance_prediction_oo_video": ("fill", "select", "sentence"),
    "nav_video": ("sentence",),
    "obj_count": ("fill", "sentence"),
    "obj_frame_locate": ("sentence",),
    "obj_spatial_relation_oc_mv": ("select", "sentence"),
    "obj_spatial_relation_oo": ("judge", "select", "sentence"),
    "obj_spatial_relation_oo_mv": ("judge", "select", "sentence"),
    "position_matching": ("fill", "select", "sentence"),
    "room_size": ("fill", "select", "sentence"),
    "spatial_imagination_map_mv": ("sentence",),
    "spatial_imagination_oc": ("select", "sentence"),
    "spatial_imagination_oc_mv": ("select", "sentence"),
    "spatial_imagination_oc_video": ("sentence",),
    "spatial_imagination_oc_video_hard": ("sentence",),
    "spatial_imagination_oo": ("select", "sentence"),
    "spatial_imagination_oo_mv": ("select", "sentence"),
    "spatial_imagination_oo_video": ("sentence",),
    "spatial_imagination_oo_video_hard": ("sentence",),
    "spatial_volume_infer": ("fill", "sentence"),
    "view_change_infer": ("fill", "sentence"),
}

# REAL: SPAR's README (depth_prediction_oc, sentence).
README_Q = ("With the counter (red point) having a depth of 1.6 meters, determine the depth of towel (blue point) in "
            "the same frame.  Calculate or judge based on the 3D center points of these objects. The unit is meter.")
README_A = "towel's central depth is estimated to be about 1.5 meters."
# REAL: a SPAR-7M depth_prediction_oo_mv fill record, as quoted by a project that trains on SPAR-7M.
OO_MV_FILL_Q = ("<image>\n<image>\n<image>\nAssume the depth of box (red point) is 2.0. How much deeper or "
                "shallower is chair (green point) relative to table (blue point), measured in meters? Calculate or "
                "judge based on the 3D center points of these objects. The depth is calculated based on the image "
                "where the markers corresponding to these objects are located. Provide a numeric response with just "
                "one value.")
# REAL: SPAR select records (obj_spatial_relation_oo, spatial_imagination_oc) quoted in prompts of such projects.
RELATION_SELECT_Q = ("In the given image, what is the position of the towel (red bbox) relative to the towel (blue "
                     "bbox), according to the observer? Calculate or judge based on the 3D center points of these "
                     "objects.\nThe options describe the spatial relationship between two objects.\nSelect the right "
                     "option from the choices provided.\nA. left, above, closer\nB. left, , closer\nC. right, below, "
                     "farther\nD. right, , farther\nYour answer can only include one of options A, B, C or D")
IMAGINATION_SELECT_Q = ("Where is chair (red bbox) initially from the observers perspective? How does the position of "
                        "chair change once the observer moves to the center of table (green bbox) and faces chair "
                        "(blue bbox)? Calculate or judge based on the 3D center points of these objects.\nChoose the "
                        "appropriate option from the choices provided.\nA. left, above, \nB. right, above, front\n"
                        "C. left, , front\nD. right, below, behind\nYour answer can only include one of options A, B, "
                        "C or D.")

NUMBER_OPTIONS = "\nChoose the appropriate option from the choices provided.\nA. 0.9\nB. 1.5\nC. 2.3\nD. 3.1"
WORD_OPTIONS = "\nSelect the right option from the choices provided.\nA. left\nB. right\nC. front\nD. behind"
NUMERIC_Q = "What is the distance between the lamp (red point) and the sofa (blue point)? The unit is meter."
CHOICE_Q = "Which object is closer to the observer, the lamp (red point) or the sofa (blue point)?"
SKIP = "unparsed_answer"


def _numeric(form: str) -> tuple[str, str, tuple]:
    """depth_/distance_prediction: a number in fill and sentence, a choice among numbers in select."""
    return {
        "fill": (NUMERIC_Q + " Type in exactly one number as your reply.", "1.5", ("number", "1.5", ())),
        "select": (NUMERIC_Q + NUMBER_OPTIONS, "B", ("choice", "B", ("0.9", "1.5", "2.3", "3.1"))),
        "sentence": (NUMERIC_Q, "The lamp is about 1.5 meters from the sofa.", ("number", "1.5", ())),
    }[form]


def _choice(form: str) -> tuple[str, str, tuple | str]:
    """Relation, imagination, distance_infer, position_matching, camera_motion_infer: a choice in select,
    yes / no in judge; their free answers (an object's name, a box, a sentence) are skipped."""
    return {
        "fill": (CHOICE_Q, "sofa", SKIP),
        "select": (CHOICE_Q + WORD_OPTIONS, "C", ("choice", "C", ("left", "right", "front", "behind"))),
        "sentence": (CHOICE_Q, "The sofa is closer to the observer than the lamp.", SKIP),
        "judge": ("Is the lamp (red bbox) to the left of the sofa (blue bbox)?", "Yes", ("choice", "A", ("Yes", "No"))),
    }[form]


def _quantity(form: str) -> tuple[str, str, tuple]:
    """obj_count, room_size, spatial_volume_infer: one number, or a choice among numbers."""
    return {
        "fill": ("How many chairs are in the room?", "4", ("number", "4", ())),
        "select": ("How large is the room in square meters?" + NUMBER_OPTIONS, "D",
                   ("choice", "D", ("0.9", "1.5", "2.3", "3.1"))),
        "sentence": ("How many chairs are in the room?", "There are 4 chairs in the room.", ("number", "4", ())),
    }[form]


def _view_change(form: str) -> tuple[str, str, tuple | str]:
    question = "How did the camera move from the first image to the second?"
    return {
        "fill": (question, "move_right:0.5,rotate_left:30", ("view_change", "move_right:0.5,rotate_left:30", ())),
        "select": (question + WORD_OPTIONS, "B", SKIP),  # no such form; a letter is no motion
        "sentence": (question, "The camera moved right by 0.5 meters and turned left by 30 degrees.", SKIP),
    }[form]


def _free_form(form: str) -> tuple[str, str, str]:
    """Maps, orders, frame lists, routes: skipped in every form, even when the answer is one number."""
    return {"fill": ("In which frame does the lamp appear first?", "12", SKIP),
            "select": ("Which object appears first?" + WORD_OPTIONS, "A", SKIP),
            "sentence": ("Describe the route to the door.", "Walk forward 2 meters, then turn left.", SKIP)}[form]


def _family(task: str):
    if task.startswith(("depth_prediction", "distance_prediction")):
        return _numeric
    if task in ("obj_count", "room_size", "spatial_volume_infer"):
        return _quantity
    if task == "view_change_infer":
        return _view_change
    if task in ("spatial_imagination_map_mv", "appearance_order", "obj_frame_locate", "nav_video"):
        return _free_form
    return _choice


CASES = [(task, form) for task, forms in INDEX.items() for form in dict.fromkeys(("fill", "select", *forms))]


@pytest.mark.parametrize(("task", "form"), CASES)
def test_every_indexed_task_parses_in_each_form(task, form):
    human, gpt, expected = _family(task)(form)
    human = "<image>\n<image>\n" + human
    if expected == SKIP:
        with pytest.raises(Skip) as caught:
            parse_conversation(task, human, gpt)
        assert caught.value.reason == SKIP
        return
    question, options, answer, answer_type = parse_conversation(task, human, gpt)
    assert (answer_type, answer, options) == expected
    assert "<image>" not in question and "A. " not in question  # options are taken out of the question


def test_the_cases_cover_fill_select_and_every_published_form():
    covered = set(CASES)
    assert all((task, form) in covered for task, forms in INDEX.items() for form in ("fill", "select", *forms))
    assert len(INDEX) == 35  # the index's task folders (SPAR's README counts 33 task types)


@pytest.mark.parametrize(("task", "answer", "letter"), [
    ("depth_prediction_oc_mv", "B", "B"), ("depth_prediction_oo_mv", "(B)", "B"),
    ("distance_prediction_oc_mv", "B. 1.5", "B"), ("distance_prediction_oo_mv", "1.5", "B"),
    ("distance_prediction_oo_mv", "1.50 meters", "B"),
])
def test_numeric_select_answers_by_letter_or_value(task, answer, letter):
    _, options, parsed, answer_type = parse_conversation(task, NUMERIC_Q + NUMBER_OPTIONS, answer)
    assert (answer_type, parsed, options) == ("choice", letter, ("0.9", "1.5", "2.3", "3.1"))


@pytest.mark.parametrize(("answer", "why"), [
    ("2.0", "is not one of 4 options"),  # a value no option has
    ("E", "is not one of 4 options"),
])
def test_numeric_select_answers_outside_the_options_are_skipped(answer, why):
    with pytest.raises(Skip, match=why) as caught:
        parse_conversation("depth_prediction_oc_mv", NUMERIC_Q + NUMBER_OPTIONS, answer)
    assert caught.value.reason == SKIP


def test_a_letter_answer_without_listed_options_is_skipped_by_name():
    with pytest.raises(Skip, match="letter answer 'B' but no options") as caught:
        parse_conversation("distance_prediction_oc_mv", NUMERIC_Q, "B")
    assert caught.value.reason == SKIP


def test_real_records_parse():
    assert parse_conversation("depth_prediction_oc", README_Q, README_A) == (README_Q, (), "1.5", "number")
    question, options, answer, kind = parse_conversation("depth_prediction_oo_mv", OO_MV_FILL_Q, "1.5")
    assert (options, answer, kind) == ((), "1.5", "number") and question.startswith("Assume the depth of box")
    stem, options, answer, kind = parse_conversation("obj_spatial_relation_oo", RELATION_SELECT_Q, "D")
    assert (answer, kind) == ("D", "choice")
    assert options == ("left, above, closer", "left, , closer", "right, below, farther", "right, , farther")
    assert stem.endswith("Your answer can only include one of options A, B, C or D")
    _, options, answer, _ = parse_conversation("spatial_imagination_oc", IMAGINATION_SELECT_Q, "C")
    assert answer == "C" and options == ("left, above,", "right, above, front", "left, , front", "right, below, behind")


def test_numeric_answers_drop_their_sign_and_several_numbers_are_skipped():
    assert parse_conversation("depth_prediction_oo_mv", NUMERIC_Q, "-0.4")[2] == "0.4"
    with pytest.raises(Skip, match="answer 'The chair is 0.4 meters deeper"):
        parse_conversation("depth_prediction_oo", NUMERIC_Q, "The chair is 0.4 meters deeper, at 2.0 meters.")
