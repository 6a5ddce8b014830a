"""The canonical action text the model writes, and a lenient parser for what it actually writes.

Canonical form (the content between <action> and </action>), one object per view pair:

    [{"from": 0, "to": 1, "actions": [{"turn_right_deg": 120}, {"move_forward_m": 1.2}]}]

The parser also takes the paper's brace style, `{from:0,to:1,action:[{turn right: 120 deg}]}`, free
whitespace and trailing commas. It never guesses and never raises: what it cannot read is reported in
`ParsedActions.error`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from hatchvl.geometry.motion import ACTION_NAMES, Action

MAX_DEPTH = 6
_UNITS = {
    "deg": {"", "deg", "degs", "degree", "degrees", "°"},
    "m": {"", "m", "meter", "meters", "metre", "metres"},
}
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_ACTION_BLOCK = re.compile(r"<action>(.*?)</action>", re.DOTALL)
_SPACE = re.compile(r"\s*")
_UNIT = re.compile(r"[ \t]*([A-Za-z°]*)")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_ \-]*")
_SUFFIX = {name: name.rsplit("_", 1)[1] for name in ACTION_NAMES}  # the unit: "deg" or "m"
# "turn_right" and "turn_right_deg" (after lower-casing, spaces and hyphens to "_") -> the canonical name
_SPOKEN = {**{n: n for n in ACTION_NAMES}, **{n.rsplit("_", 1)[0]: n for n in ACTION_NAMES}}


@dataclass(frozen=True)
class PairActions:
    """The actions written for the view pair (src -> dst), 0-based image indices."""

    src: int
    dst: int
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class ParsedActions:
    """Result of parse_actions: the pairs read, or an error message (and no pairs)."""

    pairs: tuple[PairActions, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def format_actions(pairs: Sequence[PairActions]) -> str:
    """Canonical JSON text of the pairs' actions (no <action> tags), e.g.
    `[{"from": 0, "to": 1, "actions": [{"turn_right_deg": 120}, {"move_forward_m": 1.2}]}]`."""
    objects = []
    for pair in pairs:
        steps = ", ".join(f'{{"{a.name}": {_number_text(a.value)}}}' for a in pair.actions)
        objects.append(f'{{"from": {pair.src}, "to": {pair.dst}, "actions": [{steps}]}}')
    return "[" + ", ".join(objects) + "]"


class _SyntaxError(Exception):
    pass


class _RelaxedParser:
    """Recursive descent over JSON with bare keys (letters, digits, spaces, '_', '-'), numbers followed
    by a unit word, and trailing commas. Values: dict, list, str, or (number, unit) tuples."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def parse(self):
        value = self.value(0)
        self.skip()
        if self.pos != len(self.text):
            raise _SyntaxError(f"unexpected text after the action list at character {self.pos}")
        return value

    def skip(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = self.peek() or "end of text"
            raise _SyntaxError(f"expected {char!r} at character {self.pos}, found {found!r}")
        self.pos += 1

    def value(self, depth: int):
        if depth > MAX_DEPTH:
            raise _SyntaxError("nesting too deep")
        char = self.peek()
        if char == "{":
            return self.container(depth, "{", "}")
        if char == "[":
            return self.container(depth, "[", "]")
        if char == '"':
            return self.string()
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            raise _SyntaxError(f"expected a value at character {self.pos}")
        self.pos = match.end()
        unit = _UNIT.match(self.text, self.pos)
        self.pos = unit.end()
        return float(match.group()), unit.group(1).lower()

    def string(self) -> str:
        end = self.text.find('"', self.pos + 1)
        if end < 0:
            raise _SyntaxError("unterminated string")
        out, self.pos = self.text[self.pos + 1 : end], end + 1
        return out

    def key(self) -> str:
        if self.peek() == '"':
            return self.string()
        match = _KEY.match(self.text, self.pos)
        if not match:
            raise _SyntaxError(f"expected a key at character {self.pos}")
        self.pos = match.end()
        return match.group().strip()

    def container(self, depth: int, open_: str, close: str):
        self.expect(open_)
        items: dict | list = {} if open_ == "{" else []
        while self.peek() != close:
            if open_ == "{":
                key = self.key()
                if key in items:
                    raise _SyntaxError(f"repeated key {key!r}")
                self.expect(":")
                items[key] = self.value(depth + 1)
            else:
                items.append(self.value(depth + 1))
            if self.peek() != ",":
                break
            self.pos += 1
        self.expect(close)
        return items


def _json_number(text: str) -> tuple[float, str]:
    """JSON numbers as the relaxed parser's (number, unit) pairs; NaN and Infinity become non-finite."""
    return float(text), ""


def _action(obj) -> Action:
    if not isinstance(obj, dict) or len(obj) != 1:
        raise _SyntaxError(f"an action must be one {{name: amount}} object, got {obj!r}")
    ((key, value),) = obj.items()
    if not isinstance(value, tuple):
        raise _SyntaxError(f"action {key!r} needs a number, got {value!r}")
    return _make_action(key, *value)


@lru_cache(maxsize=4096)
def _make_action(key: str, amount: float, unit: str) -> Action:
    """The Action a key, amount and unit name (cached: models repeat the same few actions)."""
    if not math.isfinite(amount):
        raise _SyntaxError(f"action {key!r} needs a number, got {amount!r}")
    name = key if key in _SUFFIX else _SPOKEN.get(re.sub(r"[\s\-]+", "_", key.strip().lower()))
    if name is None or unit not in _UNITS[_SUFFIX[name]]:
        raise _SyntaxError(f"unknown action {key!r} {unit!r}".strip())
    if amount < 0:
        raise _SyntaxError(f"action {key!r} has a negative amount {amount:g}")
    return Action(name, amount)


def _index(obj: dict, key: str) -> int:
    value = obj.get(key)
    if not (isinstance(value, tuple) and value[1] == "" and value[0].is_integer() and value[0] >= 0):
        raise _SyntaxError(f"{key!r} must be a non-negative image index, got {value!r}")
    return int(value[0])


def _pairs(data) -> tuple[PairActions, ...]:
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise _SyntaxError("expected a list of {from, to, actions} objects")
    pairs, seen = [], set()
    for obj in data:
        if not isinstance(obj, dict):
            raise _SyntaxError(f"expected a {{from, to, actions}} object, got {obj!r}")
        obj = {k.strip().lower(): v for k, v in obj.items()}
        steps = obj.get("actions", obj.get("action"))
        if set(obj) - {"from", "to", "actions", "action"} or not isinstance(steps, list):
            raise _SyntaxError(f"a pair needs exactly the keys from, to and actions, got {sorted(obj)}")
        src, dst = _index(obj, "from"), _index(obj, "to")
        if src == dst or (src, dst) in seen:
            raise _SyntaxError(f"pair ({src}, {dst}) is repeated or maps an image to itself")
        seen.add((src, dst))
        pairs.append(PairActions(src, dst, tuple(_action(step) for step in steps)))
    return tuple(pairs)


def parse_actions(text: str) -> ParsedActions:
    """Read pairs of actions from model text: the action list itself, or text holding exactly one
    `<action>...</action>` block. Returns ParsedActions with `error` set instead of raising."""
    if not isinstance(text, str):
        return ParsedActions(error=f"expected text, got {type(text).__name__}")
    blocks = _ACTION_BLOCK.findall(text)
    if len(blocks) > 1:
        return ParsedActions(error=f"{len(blocks)} <action> blocks; expected one")
    body = (blocks[0] if blocks else text).strip()
    if not body:
        return ParsedActions(error="no actions written")
    try:
        try:
            data = json.loads(body, parse_float=_json_number, parse_int=_json_number, parse_constant=_json_number)
        except (ValueError, OverflowError, RecursionError):
            data = _RelaxedParser(body).parse()
        return ParsedActions(pairs=_pairs(data))
    except (_SyntaxError, ValueError, TypeError, OverflowError, RecursionError) as err:
        return ParsedActions(error=str(err) or type(err).__name__)
