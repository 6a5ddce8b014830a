"""Building a stage's options dataclass from plain values (YAML recipes, `key=value` on the command
line), with errors that name the key: unknown keys, wrong types, missing required keys."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
import typing
from typing import Any

import yaml


def _convert(value: Any, kind: Any, key: str, where: str) -> Any:
    """Check a value against its field's annotation: bool, int, float (an int is fine), str, dict, or any
    of these `| None`."""
    args = typing.get_args(kind)
    if type(None) in args:
        if value is None:
            return None
        kind = next(a for a in args if a is not type(None))
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is float and isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as text
        try:
            return float(value)
        except ValueError:
            pass
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in (bool, str, dict, list) and isinstance(value, kind):
        return value
    name = getattr(kind, "__name__", str(kind))
    raise ValueError(f"{where}: key {key!r} expects {name}, got {value!r}")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def options_from_dict(cls: type, values: dict, where: str = "options"):
    """cls(**values) after checking every key and value; the error names `where` and the key."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in values if k not in fields]
    if unknown:
        close = difflib.get_close_matches(unknown[0], fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{where}: unknown key {unknown[0]!r}{hint}; known keys: {', '.join(fields)}")
    missing = [n for n, f in fields.items() if _default(f) is dataclasses.MISSING and n not in values]
    if missing:
        raise ValueError(f"{where}: missing required key {missing[0]!r}")
    kinds = typing.get_type_hints(cls)
    converted = {k: _convert(v, kinds[k], k, where) for k, v in values.items()}
    return cls(**converted)


def parse_overrides(pairs: list[str], where: str = "command line") -> dict:
    """['lora_r=8', 'extra={gradient_checkpointing: true}'] -> {'lora_r': 8, 'extra': {...}} (YAML values)."""
    values = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{where}: expected key=value, got {pair!r}")
        try:
            values[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as err:
            raise ValueError(f"{where}: value of {key.strip()!r} is not valid YAML: {err}") from None
    return values


def options_from_command_line(cls: type, fixed: dict, overrides: list[str], flags: tuple[str, ...], where: str):
    """A command's options from its flags (`fixed`) and its KEY=VALUE arguments; a key that has its own
    flag is refused as KEY=VALUE."""
    values = parse_overrides(overrides)
    clash = sorted(set(values) & set(flags))
    if clash:
        raise ValueError(f"set {clash[0]!r} with its flag, not as KEY=VALUE")
    return options_from_dict(cls, {**fixed, **values}, where=where)


def field_comments(cls: type) -> dict[str, str]:
    """The comment after each field of a dataclass in its source (`name: type = default  # comment`)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    found = re.finditer(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", source, flags=re.MULTILINE)
    return {m.group(1): m.group(2).strip() for m in found}


def describe_options(cls: type, skip: tuple[str, ...] = ()) -> str:
    """One line per field, 'name = default: comment', for --help texts."""
    comments = field_comments(cls)
    lines = []
    for f in dataclasses.fields(cls):
        if f.name not in skip:
            default = _default(f)
            line = f"{f.name} = {'(required)' if default is dataclasses.MISSING else default!r}"
            lines.append(line + (f": {comments[f.name]}" if f.name in comments else ""))
    return "\n".join(lines)
