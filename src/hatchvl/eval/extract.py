"""Answer extraction, per benchmark, as the benchmarks' authors extract answers. Pure functions.

Every rule is applied to `answer_text(output)`: the content of the last `<answer>...</answer>` block
when the output has one (stripped of surrounding whitespace), else the whole output unchanged. The
official rules keep their surprising outcomes (an empty SPAR multiple-choice answer scores; a
negative number loses its sign; "B is correct" is no answer on MMSI-Bench); tests/eval pins them.

- SPAR-Bench (the SPAR authors' lmms-eval task): multiple choice and view_change_infer are scored on
  the text itself (score.py); numeric tasks take numbers matching `\\d+\\.\\d+|\\d+` not preceded by
  `^`: the first for single-view tasks (none: no answer), the last for `_mv` tasks (none: -1).
- MindCube (the authors' `extract_answer`, output stripped first as lmms-eval does): see mindcube_letter.
- MMSI-Bench (the authors' `extract_single_choice_with_word_boundary`): see mmsi_letter.
- synthetic (hatchvl's own format): the answer text, read by hatchvl.objectives.answers when scored.
"""

from __future__ import annotations

import re

from hatchvl.eval.benchmarks.items import (
    HATCH_CHOICE,
    HATCH_NUMBER,
    HATCH_VIEW_CHANGE,
    MINDCUBE_LETTER,
    MMSI_LETTER,
    SPAR_CHOICE,
    SPAR_NUMBER_FIRST,
    SPAR_NUMBER_LAST,
    SPAR_VIEW_CHANGE,
)

_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_SPAR_NUMBER = re.compile(r"(?<!\^)\d+\.\d+|(?<!\^)\d+")

# MindCube, in priority order; each rule returns its last match.
_MC_LETTER_PERIOD = re.compile(r"([A-E])\.")
_MC_ANSWER_SECTION = re.compile(r"<Answer>(.*?)(?:<|$)", re.DOTALL)
_MC_SECTION_RULES = tuple(re.compile(p) for p in (r"[Mm]y answer is ([A-E])", r"[Tt]he answer is ([A-E])",
                                                     r"\b([A-E])\b"))
_MC_GENERAL_RULES = tuple(re.compile(p) for p in (
    r"(?:^|\n)(?:Answer: )?([A-E])(?:\.|$|\s)",  # a letter at the start of a line
    r"[\*\"]([A-E])[\*\"]",  # a letter in quotes or asterisks
    r"\bAnswer:?\s*([A-E])\b",
    r"[Mm]y answer is ([A-E])",
    r"answer is ([A-E])",
))
_MC_LONE_LETTER = re.compile(r"\b([A-E])\b")

# MMSI-Bench: spans that narrow the text, in order, then the first letter not followed by " word".
_MMSI_SPANS = tuple(re.compile(p) for p in (r"``([^`]*)``", r"`([^`]*)`", r"\{([^}]*)\}"))
_MMSI_LETTER = re.compile(r"\b[A-D]\b(?!\s[a-zA-Z])")


def answer_text(output: str) -> str:
    """Content of the last `<answer>...</answer>` block, stripped; the whole output when there is none."""
    blocks = _ANSWER_BLOCK.findall(output)
    return blocks[-1].strip() if blocks else output


def spar_number(text: str, last: bool) -> str | None:
    """The number a SPAR numeric answer gives, as written: the first match (None when there is none),
    or with `last` (multi-view tasks) the last match ("-1" when there is none). Signs are not part of
    the pattern: "-2.5" reads as "2.5"; "x^10" reads as "0" (only the "1" follows the "^")."""
    numbers = _SPAR_NUMBER.findall(text)
    if last:
        return numbers[-1] if numbers else "-1"
    return numbers[0] if numbers else None


def mindcube_letter(text: str) -> str | None:
    """The option letter (A-E) a MindCube answer gives, or None.

    In order, the first rule that matches gives its last match: (1) a letter followed by a period
    anywhere; (2) inside an `<Answer>` section: "my answer is X", "the answer is X", a lone letter;
    (3) a letter at the start of a line (optionally after "Answer: "), in quotes or asterisks, after
    "Answer:", after "my answer is", after "answer is"; (4) a lone letter, searching lines from the
    last one up. The official list also has "X. text" patterns (in rules 2-4); each needs "X." and so
    can never fire after rule 1, which is why they are not repeated here.
    """
    text = text.strip()
    if not text:
        return None
    matches = _MC_LETTER_PERIOD.findall(text)
    if matches:
        return matches[-1]
    section = _MC_ANSWER_SECTION.search(text)
    if section:
        for rule in _MC_SECTION_RULES:
            matches = rule.findall(section.group(1))
            if matches:
                return matches[-1]
    for rule in _MC_GENERAL_RULES:
        matches = rule.findall(text)
        if matches:
            return matches[-1]
    for line in reversed(text.split("\n")):
        match = _MC_LONE_LETTER.search(line)
        if match:
            return match.group(1)
    return None


def mmsi_letter(text: str) -> str | None:
    """The option letter (A-D, upper case only) an MMSI-Bench answer gives, or None.

    The text narrows to the content of the first ``double-backtick`` span, then of the first
    `backtick` span, then of the first {brace} span, each when present; the answer is then the first
    standalone capital A-D not followed by a space and a letter ("B is right" is no answer).
    """
    for span in _MMSI_SPANS:
        match = span.search(text)
        if match:
            text = match.group(1)
    match = _MMSI_LETTER.search(text)
    return match.group() if match else None


def extract(scoring: str, output: str) -> str | None:
    """The extracted answer of a raw output for an item's scoring kind (None: no answer found)."""
    text = answer_text(output)
    if scoring in (SPAR_CHOICE, SPAR_VIEW_CHANGE):
        return text
    if scoring in (SPAR_NUMBER_FIRST, SPAR_NUMBER_LAST):
        return spar_number(text, last=scoring == SPAR_NUMBER_LAST)
    if scoring == MINDCUBE_LETTER:
        return mindcube_letter(text)
    if scoring == MMSI_LETTER:
        return mmsi_letter(text)
    if scoring in (HATCH_CHOICE, HATCH_NUMBER, HATCH_VIEW_CHANGE):
        return text.strip()
    raise ValueError(f"unknown scoring kind {scoring!r}")
