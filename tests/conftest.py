"""Fixtures shared by several test folders."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread, and a second thread on a busy 2-core machine can make every
    step tens of times slower (OpenMP threads waiting for each other). Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
