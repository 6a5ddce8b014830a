"""A synthetic dataset built once per test session (64 px, enough samples for 200 per question type)."""

import pytest

from hatchvl.data.dataset import SPLITS, read_manifest
from hatchvl.data.synth import SynthConfig, synthesize

SESSION_CONFIG = SynthConfig(scenes=130, seed=7, size=64, samples_per_scene=12)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synthesize(root, SESSION_CONFIG, workers=2)
    return root


@pytest.fixture(scope="session")
def synth_samples(synth_root):
    return [s for split in SPLITS for s in read_manifest(synth_root, split)]
