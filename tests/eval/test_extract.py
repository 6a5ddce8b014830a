"""Each benchmark's official extraction on realistic outputs, surprising outcomes included (we reproduce
the official rules, we do not fix them)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hatchvl.eval.benchmarks.items import HATCH_CHOICE, MMSI_LETTER, SPAR_CHOICE, SPAR_NUMBER_FIRST, SPAR_NUMBER_LAST
from hatchvl.eval.extract import answer_text, extract, mindcube_letter, mmsi_letter, spar_number

COT = ("Looking at image 1, the lamp stands left of the sofa. In image 2 the camera turned right, "
       "so the plant is now on the left.\nTherefore, the answer is B")


@pytest.mark.parametrize(("output", "expected"), [
    ("B", "B"),
    ("B. Plant", "B"),  # letter first
    ("`B`", "B"),  # letter in backticks: the lone-letter rule
    ("The answer is (B)", "B"),  # "answer is X" needs X right after "is "; the lone letter finds it
    (COT, "B"),  # chain of thought ending in an answer: "answer is B"
    ("", None),
    ("A or B", "A"),  # two letters: the letter at the start of the line wins
    ("b", None),  # lower case is no answer
    ("2.5 meters", None),
    ("-1", None),
    ("I think A. No wait, it is B", "A"),  # any "X." outranks everything: the first rule
    ("E.g. the lamp is left, so B", "E"),  # "E.g." reads as option E
    ("<Answer> I choose, my answer is C", "C"),
    ("Answer: D", "D"),
    ('The option is "C" here', "C"),
    ("The *D* option", "D"),
    ("  B\n", "B"),  # stripped first, as lmms-eval does
])
def test_mindcube_letter(output, expected):
    assert mindcube_letter(output) == expected


def _official_mindcube(text: str) -> str | None:
    """Oracle: MindCube's full priority list as published, including the "X. text" patterns that
    mindcube_letter leaves out because rule 1 always fires first."""
    text = text.strip()
    if not text:
        return None
    if found := re.findall(r"([A-E])\.", text):
        return found[-1]
    section = re.search(r"<Answer>(.*?)(?:<|$)", text, re.DOTALL)
    if section:
        for p in (r"[Mm]y answer is ([A-E])", r"[Mm]y answer is ([A-E])\.", r"[Tt]he answer is ([A-E])",
                  r"(?:Answer: )?([A-E])\.", r"\b([A-E])\b"):
            if found := re.findall(p, section.group(1)):
                return found[-1]
    for p in (r"(?:Answer: )?([A-E])\. [A-Za-z0-9 \-\(\)\'\",]+(?=(?:\n|$|\.|\"))",
              r"(?:Answer: )?([A-E])\. [A-Za-z0-9 \-\(\)\'\"]+", r"(?:^|\n)(?:Answer: )?([A-E])(?:\.|$|\s)",
              r"[\*\"]([A-E])[\*\"]", r"\bAnswer:?\s*([A-E])\b", r"[Mm]y answer is ([A-E])",
              r"[Mm]y answer is ([A-E])\.", r"answer is ([A-E])"):
        if found := re.findall(p, text):
            return found[-1]
    lines = text.split("\n")
    with_text = [m.group(1) for line in lines if (m := re.search(r"([A-E])\. [A-Za-z0-9 \-\(\)\'\",]+", line))]
    if with_text:
        return with_text[-1]
    for line in reversed(lines):
        if m := re.search(r"\b([A-E])\b", line):
            return m.group(1)
    return None


TOKENS = ["A", "B", "C", "E", "F", "a", ".", " ", "\n", "*", '"', "(", ")", "Answer:", "Answer: ", "answer is ",
          "my answer is ", "The answer is ", "<Answer>", "<", "word", "x"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=12).map("".join))
def test_mindcube_letter_matches_the_full_official_list(text):
    assert mindcube_letter(text) == _official_mindcube(text)


@pytest.mark.parametrize(("output", "expected"), [
    ("B", "B"),
    ("B. right", "B"),
    ("`B`", "B"),
    ("``C``", "C"),
    ("The answer is (B).", "B"),
    ("Camera 1 faces the door. A chair is left of it, so the answer is ``B``", "B"),  # CoT, enclosed answer
    ("Camera 1 faces the door. A chair is left of it, so the answer is B.", "B"),  # "A chair" is skipped
    ("", None),
    ("A or B", "B"),  # "A or" is "a letter then a word": skipped; B wins
    ("A, B", "A"),
    ("b", None),  # lower case is no answer
    ("B is correct", None),  # the only letter is followed by a word: no answer
    ("2.5 meters", None),
    ("-1", None),
    ("{C}", "C"),
    ("Answer: `B` (not `C`)", "B"),  # the first backtick span
    ("`the second one`", None),  # narrowing to a span without a letter: no answer
    ("In 3D, D.", "D"),  # "3D" is not a standalone letter
])
def test_mmsi_letter(output, expected):
    assert mmsi_letter(output) == expected


@pytest.mark.parametrize(("output", "first", "last"), [
    ("2.5 meters", "2.5", "2.5"),  # units ignored
    ("-1.5", "1.5", "1.5"),  # the sign is lost
    ("The chair is 3 m away, the table 4.25 m", "3", "4.25"),
    ("", None, "-1"),  # single-view: no answer; multi-view: -1
    ("about two metres", None, "-1"),
    ("x^10", "0", "0"),  # only "1" follows the "^"; "0" does not
    ("2^3", "2", "2"),
    (".5", "5", "5"),  # no leading digit: ".5" reads as 5
    ("1,200 mm", "1", "200"),
    ("B", None, "-1"),
])
def test_spar_number(output, first, last):
    assert spar_number(output, last=False) == first
    assert spar_number(output, last=True) == last


@pytest.mark.parametrize(("output", "expected"), [
    ("<think>left of the sofa</think>\n<answer> B </answer>", "B"),
    ("<answer>A</answer> then <answer>C</answer>", "C"),  # the last block
    ("<answer>B", "<answer>B"),  # unclosed: the whole output
    ("plain B", "plain B"),
    ("<answer></answer>", ""),
])
def test_answer_text(output, expected):
    assert answer_text(output) == expected


def test_extract_applies_the_rule_to_the_answer_content():
    output = '<action>[{"from": 0, "to": 1, "actions": [{"turn_right_deg": 30}]}]</action>\n<answer>C</answer>'
    assert extract(MMSI_LETTER, output) == "C"
    assert extract(SPAR_CHOICE, output) == "C"
    assert extract(HATCH_CHOICE, output) == "C"
    # without the block the whole output is read: "0", "1", "30" are numbers of the action text
    assert extract(SPAR_NUMBER_LAST, output.replace("<answer>C</answer>", "")) == "30"
    assert extract(SPAR_NUMBER_FIRST, "<answer>about 2.5 m</answer> (3 m at most)") == "2.5"
    with pytest.raises(ValueError, match="unknown scoring kind"):
        extract("nope", "B")
