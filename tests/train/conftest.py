"""Shared fixtures for the training tests: a small synthetic dataset and a tiny Qwen2.5-VL."""

import pytest

from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.models.tiny import init_tiny


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    synthesize(root, SynthConfig(scenes=4, seed=0, views=(2, 3), size=64, samples_per_scene=4, split=(0.5, 0.25, 0.25)))
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return init_tiny("qwen2_5_vl", tmp_path_factory.mktemp("models") / "tiny", seed=0)
