"""The chat messages a model sees for an item, in two styles.

- "official": each benchmark's own prompt, for comparison with published numbers (images first, then
  the text). SPAR-Bench (the SPAR authors' lmms-eval task): "\\n" + question + "\\n" + a post-prompt:
  numeric tasks "Please answer the question using a single word or phrase.", multiple choice (after
  a sentence on 0-1000 box coordinates for position_matching and camera_motion_infer) "Answer with the
  option's letter from the given choices directly.", view_change_infer nothing. MindCube: the
  authors' raw-QA prompt. MMSI-Bench: question + "\\nAnswer with the option's letter from the given
  choices directly. Enclose the option's letter within ``.". Synthetic: hatchvl's "answer" style.
- "hatch": action then answer. Each image labelled "Image k:", the official text, then hatchvl's
  action instruction (hatchvl.objectives.prompts); synthetic items use the "action_answer" style.
"""

from __future__ import annotations

from hatchvl.eval.benchmarks.items import (
    MINDCUBE_LETTER,
    MMSI_LETTER,
    SPAR_BOX_TASKS,
    SPAR_CHOICE,
    SPAR_NUMBER_FIRST,
    SPAR_NUMBER_LAST,
    SPAR_VIEW_CHANGE,
    EvalItem,
)
from hatchvl.objectives.prompts import ACTION_INSTRUCTION, prompt_messages

PROMPT_STYLES = ("official", "hatch")

SPAR_NUMBER_POST = "Please answer the question using a single word or phrase."
SPAR_CHOICE_POST = "Answer with the option's letter from the given choices directly."
SPAR_BOX_SENTENCE = ("The values represent the bounding box coordinates normalized to a 0-1000 scale, "
                     "with the top-left corner as the origin of the image.")
MMSI_POST = "\nAnswer with the option's letter from the given choices directly. Enclose the option's letter within ``."
MINDCUBE_INSTRUCTION = (
    "[Task]\nYour task is to analyze the spatial arrangement of objects in the scene by examining the provided "
    "images, which show the scene from different viewpoints.\n[Answer Instruction]\nYou only need to provide *ONE* "
    "correct answer selecting from the options listed below. For example, if you think the correct answer is "
    "'A. Above' from 'A. Above B. Under C. Front D. Behind', your response should **only** be "
    "'<answer>A. Above</answer>'.\n"
)


def check_style(style: str) -> str:
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {style!r}; expected one of {', '.join(PROMPT_STYLES)}")
    return style


def official_text(item: EvalItem) -> str:
    """The text part of the benchmark's official prompt for a (non-synthetic) item."""
    if item.scoring in (SPAR_NUMBER_FIRST, SPAR_NUMBER_LAST):
        return f"\n{item.question}\n{SPAR_NUMBER_POST}"
    if item.scoring == SPAR_CHOICE:
        box = SPAR_BOX_SENTENCE if item.category in SPAR_BOX_TASKS else ""
        return f"\n{item.question}\n{box}\n{SPAR_CHOICE_POST}"
    if item.scoring == SPAR_VIEW_CHANGE:
        return f"\n{item.question}\n\n"
    if item.scoring == MINDCUBE_LETTER:
        return f"{MINDCUBE_INSTRUCTION}\n[Question]\n{item.question}"
    if item.scoring == MMSI_LETTER:
        return item.question + MMSI_POST
    raise ValueError(f"item {item.id!r}: no official prompt for scoring kind {item.scoring!r}")


def item_messages(item: EvalItem, style: str) -> list[dict]:
    """One user turn: the item's images (as placeholders, in order) and its text for the style."""
    check_style(style)
    if item.sample is not None:
        return prompt_messages(item.sample, "answer" if style == "official" else "action_answer")
    if style == "official":
        content = [{"type": "image"} for _ in item.images]
        content.append({"type": "text", "text": official_text(item)})
    else:
        content = []
        for k in range(len(item.images)):
            content += [{"type": "text", "text": f"Image {k + 1}:"}, {"type": "image"}]
        content.append({"type": "text", "text": f"{official_text(item)}\n{ACTION_INSTRUCTION}"})
    return [{"role": "user", "content": content}]
