"""Chat messages and target texts for a multi-view question (docs/actor.md, "The text the model writes").

Two target styles:
- "answer": the answer alone (QA fine-tuning), e.g. `C`.
- "action_answer": the actions for every view pair i < j in the canonical format, then the answer:
  `<action>[{"from": 0, "to": 1, "actions": [...]}]</action>\n<answer>C</answer>`.

Messages follow the chat format of transformers processors and TRL: a user turn whose content is a
list of blocks, each view introduced by its label and an image placeholder, then the question, the
options and the instruction. Labels count from 1 ("Image 1:"), as questions and benchmarks do; action
indices count from 0 (`"from": 0` is the first image), as in the paper, and the instruction says so.
Images themselves travel beside the messages, in order.
"""

from __future__ import annotations

from hatchvl.data.answers import describe_view_change_keys
from hatchvl.data.format import LETTERS, Sample
from hatchvl.geometry.actions_text import format_actions
from hatchvl.geometry.motion import ACTION_NAMES

STYLES = ("answer", "action_answer")
CAPTION = "caption"  # the miniature's pretraining target: one view in, its grounded caption out
SFT_TARGETS = (*STYLES, CAPTION)
CAPTION_INSTRUCTION = ("Describe the image: the number of objects, then each object's colour, shape, side (left, "
                       "centre or right) and distance (near, mid or far), from left to right.")

ANSWER_INSTRUCTIONS = {
    "choice": "Answer with the option's letter from the given choices directly.",
    "number": "Answer with a single number in metres.",
    "view_change": ("Answer with the camera motion as comma-separated key:value pairs, keys from "
                    f"{describe_view_change_keys()}."),
}
ACTION_INSTRUCTION = (
    "First write how the camera moves between every pair of images inside <action></action>, as a JSON list "
    "of {\"from\": i, \"to\": j, \"actions\": [...]} objects for every i < j, where 0 is the first image, "
    f"using the actions {', '.join(ACTION_NAMES)}. "
    "Then give the answer inside <answer></answer>."
)


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"unknown target style {style!r}; expected one of {', '.join(STYLES)}")


def question_text(sample: Sample, style: str) -> str:
    """The text after the images: question, lettered options, and the instruction for the style."""
    _check_style(style)
    lines = [sample.question.strip()]
    lines += [f"{LETTERS[k]}. {option}" for k, option in enumerate(sample.options)]
    lines.append(ANSWER_INSTRUCTIONS[sample.answer_type])
    if style == "action_answer":
        lines.append(ACTION_INSTRUCTION)
    return "\n".join(lines)


def prompt_messages(sample: Sample, style: str) -> list[dict]:
    """The user turn: for each view "Image k:" (k from 1) and an image placeholder, then question_text."""
    content: list[dict] = []
    for k in range(sample.num_views):
        content += [{"type": "text", "text": f"Image {k + 1}:"}, {"type": "image"}]
    content.append({"type": "text", "text": question_text(sample, style)})
    return [{"role": "user", "content": content}]


def target_text(sample: Sample, style: str) -> str:
    """What the model should write for the style (see the module docstring)."""
    _check_style(style)
    if style == "answer":
        return sample.answer
    if not sample.actions:
        raise ValueError(f"sample {sample.id} has no target actions; the action_answer style needs them")
    return f"<action>{format_actions(sample.actions)}</action>\n<answer>{sample.answer}</answer>"


def completion_messages(sample: Sample, style: str) -> list[dict]:
    """The assistant turn holding target_text."""
    return [{"role": "assistant", "content": [{"type": "text", "text": target_text(sample, style)}]}]


def caption_messages(caption: str | None = None) -> list[dict]:
    """One view and the caption instruction; with `caption`, also the assistant turn that holds it."""
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": CAPTION_INSTRUCTION}]}]
    if caption is not None:
        messages.append({"role": "assistant", "content": [{"type": "text", "text": caption}]})
    return messages
