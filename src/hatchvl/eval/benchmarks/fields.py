"""Checks the benchmark readers share: required columns, option letters inside a question, unique ids.
Each raises ValueError naming the file, line or item concerned."""

from __future__ import annotations

import re
from collections.abc import Iterable


def require_columns(present: Iterable[str], required: Iterable[str], where: str) -> None:
    missing = [c for c in required if c not in set(present)]
    if missing:
        raise ValueError(f"{where}: missing column(s) {', '.join(missing)} (found: {', '.join(present)})")


def option_letters(question: str, letters: str) -> tuple[str, ...]:
    """The option letters a question offers inside its text ("A. Above", "B: the sofa", "C) left"),
    in order of first appearance."""
    found = re.findall(rf"(?<![A-Za-z0-9])([{letters}])\s*[.:)]", question)
    return tuple(dict.fromkeys(found))


def check_choice(question: str, answer: str, letters: str, where: str) -> tuple[str, ...]:
    """The option letters of a multiple-choice question whose options are in its text; ValueError when
    the answer is not one of `letters`, or the text offers fewer than two options or not the answer's."""
    if len(answer) != 1 or answer not in letters:
        raise ValueError(f"{where}: answer {answer!r} is not an option letter {'/'.join(letters)}")
    options = option_letters(question, letters)
    if len(options) < 2 or answer not in options:
        raise ValueError(f"{where}: the question offers no options {letters[0]}-{letters[-1]} including the "
                         f"answer {answer!r} (found {list(options)}); options are required for this benchmark")
    return options


class UniqueIds:
    """Remembers ids and where they were seen; `add` raises on a repeat."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def add(self, item_id: str, where: str) -> None:
        if item_id in self.seen:
            raise ValueError(f"{where}: item id {item_id!r} repeats ({self.seen[item_id]})")
        self.seen[item_id] = where
