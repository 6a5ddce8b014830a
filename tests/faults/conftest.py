"""Fixtures of the fault-injection suite (the harness is harness.py)."""

import pytest


@pytest.fixture(scope="session")
def warm_imports():
    """Import what the commands import, once, before any fork: a forked attempt then starts in no time."""
    import hatchvl.cli.main  # noqa: F401
    import hatchvl.eval.generate  # noqa: F401
    import hatchvl.pipeline.run  # noqa: F401
    import hatchvl.train.grpo  # noqa: F401
    import hatchvl.train.pasta  # noqa: F401
    import hatchvl.train.sft  # noqa: F401
