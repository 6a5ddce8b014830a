"""A synthetic dataset built once per test session (64 px, enough samples for 200 per question type)."""

import functools

import pytest

from hatchvl.data.format import SPLITS, read_manifest
from hatchvl.data.synthetic.synth import SynthConfig, synthesize

SESSION_CONFIG = SynthConfig(scenes=130, seed=7, size=64, samples_per_scene=12)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synthesize(root, SESSION_CONFIG, workers=2)
    return root


@pytest.fixture(scope="session")
def synth_samples(synth_root):
    return [s for split in SPLITS for s in read_manifest(synth_root, split)]


@pytest.fixture
def chunk_calls(monkeypatch):
    """`chunk_calls(module, name, die_on=k)` wraps an importer's per-chunk function `module.name(ctx, chunk)`:
    the wrapper records each chunk index and, when die_on is given, raises KeyboardInterrupt on that call
    (a killed import). Returns the list of recorded chunks. Calling it again wraps the original function."""

    def wrap(module, name: str, die_on: int | None = None) -> list:
        current = getattr(module, name)
        real = getattr(current, "__wrapped__", current)
        calls: list = []

        @functools.wraps(real)
        def recorded(ctx, chunk):
            calls.append(chunk)
            if len(calls) == die_on:
                raise KeyboardInterrupt
            return real(ctx, chunk)

        monkeypatch.setattr(module, name, recorded)
        return calls

    return wrap
