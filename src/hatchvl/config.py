"""Building typed configs from plain values (YAML recipes, `key=value` on the command line).

`build(cls, values, where)` turns a mapping into the dataclass `cls`, recursing into fields that are
themselves dataclasses, lists of dataclasses or tuples, and checks every key and value on the way. Errors
name the full path of the key (`stages.grpo: unknown key 'learning_rat' (did you mean 'learning_rate'?)`,
`eval.benchmarks[0].limit expects int, got 'ten'`), so a typo fails when the recipe is read, not an
hour into a run. `set_dotted` applies `a.b.c=value` overrides to the plain mapping before it is built.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config value or key that cannot be used; the message names the key."""


def default_of(f: dataclasses.Field) -> Any:
    """A field's default value, or dataclasses.MISSING for a required field."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _convert(value: Any, kind: Any, where: str) -> Any:
    """Check (and where unambiguous, convert) one value against a field's annotation."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(value, options[0], where)
        for option in options:  # e.g. str | list: the first that fits
            try:
                return _convert(value, option, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} expects {' or '.join(_name(a) for a in options)}, got {value!r}")
    if dataclasses.is_dataclass(kind):
        return build(kind, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} expects a list, got {value!r}")
        return [_convert(v, args[0], f"{where}[{k}]") if args else v for k, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} expects a list, got {value!r}")
        if args and args[-1] is not Ellipsis and len(args) != len(value):
            raise ConfigError(f"{where} expects {len(args)} values, got {value!r}")
        item = (lambda k: args[0]) if args and args[-1] is Ellipsis else (lambda k: args[k] if args else Any)
        return tuple(_convert(v, item(k), f"{where}[{k}]") for k, v in enumerate(value))
    if origin is dict:
        kind = dict
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}")
    if kind is Any:
        return value
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
    raise ConfigError(f"{where} expects {_name(kind)}, got {value!r}")


def _name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def build(cls: type, values: Any, where: str = ""):
    """cls(**values) after checking every key and value, recursively; errors name `where` (the path of
    `values` in the whole config, '' at its top) and the key."""
    if isinstance(values, cls):
        return values
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in values if k not in fields]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where or cls.__name__}: unknown key {unknown[0]!r}{hint}; known keys: {', '.join(fields)}")
    missing = [n for n, f in fields.items() if default_of(f) is dataclasses.MISSING and n not in values]
    if missing:
        raise ConfigError(f"{where or cls.__name__}: missing required key {missing[0]!r}")
    kinds = typing.get_type_hints(cls)
    converted = {key: _convert(value, kinds[key], f"{where}.{key}" if where else key) for key, value in values.items()}
    try:
        return cls(**converted)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:  # a dataclass's own __post_init__ checks
        raise ConfigError(f"{where or cls.__name__}: {err}") from None


def parse_value(text: str, key: str) -> Any:
    """The YAML value of `key=text` on a command line ('' stays '')."""
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"command line: value of {key!r} is not valid YAML: {err}") from None


def parse_overrides(pairs: list[str], where: str = "command line") -> dict[str, Any]:
    """['lora_r=8', 'stages.grpo.beta=0.1'] -> {'lora_r': 8, 'stages.grpo.beta': 0.1} (YAML values)."""
    values = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where}: expected key=value, got {pair!r}")
        values[key.strip()] = parse_value(text, key.strip())
    return values


def set_dotted(tree: dict, dotted: str, value: Any) -> None:
    """tree['a']['b']['c'] = value for 'a.b.c', making the mappings on the way; a list index is a number
    ('eval.benchmarks.0.limit')."""
    *parents, last = dotted.split(".")
    node: Any = tree
    for depth, key in enumerate(parents):
        here = ".".join(parents[: depth + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(f"override {dotted}: {here} is not an index of the list")
            node = node[int(key)]
            continue
        if node.get(key) is None:
            node[key] = {}
        node = node[key]
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"override {dotted}: {here} is a value, not a mapping")
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"override {dotted}: {last} is not an index of the list")
        node[int(last)] = value
    else:
        node[last] = value
