"""SPAR-7M records' conversations -> question, options, answer and answer type (hatchvl.data.importers.spar)."""

from __future__ import annotations

import math
import re

from hatchvl.data.answers import OPPOSITE_KEYS, VIEW_CHANGE_KEYS
from hatchvl.data.chunks import Skip
from hatchvl.data.format import LETTERS

NUMERIC_TASKS = ("depth_prediction", "distance_prediction")
# SPAR tasks whose answers are a bird's-eye map, an order of objects, a list of frames or a route: no
# hatchvl answer type holds them, so they are skipped whatever a record's answer looks like.
FREE_FORM_TASKS = ("spatial_imagination_map_mv", "appearance_order", "obj_frame_locate", "nav_video")

_OPTION = re.compile(r"^\s*\(?([A-J])[.):]\s*(.*?)\s*$")
_INLINE_OPTION = re.compile(r"(?:^|(?<=\s))\(?([A-J])[.)]\s+")
_LETTER = re.compile(r"^\s*\(?([A-J])\)?(?:[.):]|\s|$)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_VIEW_PART = re.compile(r"^([a-z_]+):(-?\d+(?:\.\d+)?)[a-z°]*$")


def split_options(text: str) -> tuple[str, tuple[str, ...]]:
    """(question without its options, options) of a question that lists options A, B, ... on their own
    lines ("A. text", "(B) text", "C: text") or inline ("... A. x B. y C. z"). No options: (text, ())."""
    lines = text.split("\n")
    for start, line in enumerate(lines):
        m = _OPTION.match(line)
        if m and m.group(1) == "A":
            options, end = [], start
            while end < len(lines) and (m := _OPTION.match(lines[end])) and m.group(1) == LETTERS[len(options)]:
                options.append(m.group(2))
                end += 1
            if len(options) >= 2:
                rest = [s for s in lines[:start] + lines[end:] if s.strip()]
                return "\n".join(rest).strip(), tuple(options)
    marks = list(_INLINE_OPTION.finditer(text))
    starts = [k for k, m in enumerate(marks) if m.group(1) == "A"]
    for k in reversed(starts):
        run = [marks[k]]
        for m in marks[k + 1:]:
            if m.group(1) == LETTERS[len(run)]:
                run.append(m)
        if len(run) >= 2:
            bounds = [m.start() for m in run[1:]] + [len(text)]
            options = [text[m.end():b].strip().rstrip(",;").strip() for m, b in zip(run, bounds, strict=True)]
            return text[: run[0].start()].strip(), tuple(options)
    return text.strip(), ()


def normalise_spar_view_change(text: str) -> str:
    """SPAR's `key:value,...` normalised to the dataset's form: no spaces or units, negative values
    turned into the opposite key, zero values left out. Skip('unparsed_answer') when it is not one."""
    parts = []
    for part in re.sub(r"\s+", "", text.strip().lower()).strip(".").split(","):
        m = _VIEW_PART.match(part)
        if not m or m.group(1) not in VIEW_CHANGE_KEYS:
            raise Skip("unparsed_answer", f"view change {text!r}")
        key, value = m.group(1), m.group(2)
        if value.startswith("-"):
            key, value = OPPOSITE_KEYS[key], value[1:]
        if float(value) > 0:
            parts.append(f"{key}:{value}")
    if not parts:
        raise Skip("unparsed_answer", f"view change without motion {text!r}")
    return ",".join(parts)


def parse_conversation(task: str, human: str, gpt: str) -> tuple[str, tuple[str, ...], str, str]:
    """(question, options, answer, answer_type) of a SPAR record's first exchange, in any of SPAR's answer
    formats (`fill`, `select`, `sentence`, `judge`); the format is read from the record, not its folder.

    `<image>` placeholders are removed. view_change_infer -> view_change; FREE_FORM_TASKS are
    Skip('unparsed_answer'). Options listed in the question (every task, the depth and distance tasks'
    `select` form included) make a choice: the answer is a letter, an option's text, or (depth and
    distance tasks) a number equal to exactly one option's number.
    Without options: yes / no -> choice between Yes and No (not for depth and distance tasks); one number
    -> number (depth and distance tasks drop its sign). Anything else is Skip('unparsed_answer').
    """
    question = re.sub(r"[ \t]*<image>[ \t]*\n?", "", human).strip()
    answer = gpt.strip()
    if task == "view_change_infer":
        return question, (), normalise_spar_view_change(answer), "view_change"
    if task in FREE_FORM_TASKS:
        raise Skip("unparsed_answer", f"{task}: free-form answer, no hatchvl answer type holds it")
    numeric = task.startswith(NUMERIC_TASKS)
    stem, options = split_options(question)
    if options:
        return stem, options, _option_letter(task, answer, options, numeric), "choice"
    if not numeric and answer.lower().rstrip(".") in ("yes", "no"):
        return question, ("Yes", "No"), "A" if answer.lower().startswith("y") else "B", "choice"
    number = _single_number(answer)
    if number is not None:
        return question, (), number.lstrip("-") if numeric else number, "number"
    if _LETTER.fullmatch(answer.rstrip(".")):
        raise Skip("unparsed_answer", f"{task}: letter answer {answer!r} but no options A, B, ... in the question")
    raise Skip("unparsed_answer", f"{task}: answer {answer[:80]!r}")


def _single_number(text: str) -> str | None:
    """The one finite number written in text, or None when it has none or several."""
    numbers = _NUMBER.findall(text)
    return numbers[0] if len(numbers) == 1 and math.isfinite(float(numbers[0])) else None


def _option_letter(task: str, answer: str, options: tuple[str, ...], numeric: bool) -> str:
    """The letter of the option the answer names: its letter, its text or (numeric) its number."""
    letter = _LETTER.match(answer)
    if letter and LETTERS.index(letter.group(1)) < len(options) and len(set(options)) == len(options):
        return letter.group(1)
    lowered = [o.lower().rstrip(".") for o in options]
    if answer.lower().rstrip(".") in lowered and len(set(lowered)) == len(lowered):
        return LETTERS[lowered.index(answer.lower().rstrip("."))]
    number = _single_number(answer) if numeric else None
    if number is not None:
        values = [_single_number(o) for o in options]
        matches = [k for k, v in enumerate(values) if v is not None and float(v) == float(number)]
        if len(matches) == 1:
            return LETTERS[matches[0]]
    raise Skip("unparsed_answer", f"{task}: answer {answer[:80]!r} is not one of {len(options)} options")
