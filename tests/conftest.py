"""Fixtures shared by several test folders."""

import pytest
import torch

from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.models.tiny import init_tiny


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread, and a second thread on a busy 2-core machine can make every
    step tens of times slower (OpenMP threads waiting for each other). Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """A small synthetic dataset (4 scenes, 64 px, with captions), built once per session."""
    root = tmp_path_factory.mktemp("data")
    synthesize(root, SynthConfig(scenes=4, seed=0, views=(2, 3), size=64, samples_per_scene=4, split=(0.5, 0.25, 0.25)))
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny random Qwen2.5-VL checkpoint (byte tokenizer), built once per session."""
    return init_tiny("qwen2_5_vl", tmp_path_factory.mktemp("models") / "tiny", seed=0)
