"""The one nested config builder: every key and value is checked, and errors name the key's full path."""

from dataclasses import dataclass, field

import pytest

from hatchvl.config import ConfigError, build, parse_overrides, set_dotted


@dataclass
class Inner:
    size: int = 1
    views: tuple[int, int] = (2, 3)

    def __post_init__(self):
        if self.size < 1:
            raise ValueError(f"size must be >= 1, got {self.size}")


@dataclass
class Outer:
    name: str
    rate: float = 0.5
    inner: Inner | None = None
    items: list[Inner] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def test_nested_values_become_dataclasses_tuples_and_floats():
    got = build(Outer, {"name": "a", "rate": "1e-3", "inner": {"views": [1, 4]}, "items": [{"size": 2}]})
    assert got == Outer("a", 1e-3, Inner(1, (1, 4)), [Inner(2)], {})
    rate = build(Outer, {"name": "a", "rate": 2}).rate
    assert rate == 2.0 and isinstance(rate, float)


@pytest.mark.parametrize("values, message", [
    ({"name": "a", "rat": 1}, r"^top: unknown key 'rat' \(did you mean 'rate'\?\); known keys: name, rate"),
    ({"rate": 1}, r"^top: missing required key 'name'"),
    ({"name": 3}, r"^top\.name expects str, got 3"),
    ({"name": "a", "rate": True}, r"^top\.rate expects float, got True"),
    ({"name": "a", "inner": {"sise": 1}}, r"^top\.inner: unknown key 'sise'"),
    ({"name": "a", "inner": {"views": [1]}}, r"^top\.inner\.views expects 2 values"),
    ({"name": "a", "inner": 5}, r"^top\.inner must be a mapping, got 5"),
    ({"name": "a", "items": [{}, {"size": "x"}]}, r"^top\.items\[1\]\.size expects int"),
    ({"name": "a", "items": [{"size": 0}]}, r"^top\.items\[0\]: size must be >= 1, got 0"),
])
def test_errors_name_the_full_path_of_the_key(values, message):
    with pytest.raises(ConfigError, match=message):
        build(Outer, values, where="top")


def test_overrides_parse_yaml_values_and_set_dotted_paths():
    values = parse_overrides(["a.b=1e-4", "c=[1, 2]", "d=null", "e="])
    assert values == {"a.b": "1e-4", "c": [1, 2], "d": None, "e": ""}  # YAML 1.1: 1e-4 without a dot is text
    tree = {"a": {"b": 1}, "l": [{"x": 1}], "v": 3}
    set_dotted(tree, "a.c.d", 2)
    set_dotted(tree, "l.0.x", 5)
    assert tree == {"a": {"b": 1, "c": {"d": 2}}, "l": [{"x": 5}], "v": 3}
    with pytest.raises(ConfigError, match="v is a value"):
        set_dotted(tree, "v.w", 1)
    with pytest.raises(ConfigError, match="not an index"):
        set_dotted(tree, "l.3.x", 1)
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["novalue"])
