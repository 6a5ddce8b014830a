"""Fixtures of the wiring tests: a small synthetic split whose every view file is a unique mosaic."""

from pathlib import Path

import pytest
from PIL import Image

from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from tests.train.wiring import SIZE, manifest, mosaic


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wiring-data")
    synthesize(root, SynthConfig(scenes=2, seed=0, views=(2, 3), size=SIZE, samples_per_scene=3,
                                 split=(1.0, 0.0, 0.0)))
    records = manifest(root)
    files = sorted({path for record in records for path in record["images"]})
    assert len(files) <= 24  # red stays below 256
    for number, path in enumerate(files):
        Image.fromarray(mosaic(number)).save(root / path)
    # what the checks rely on: 2- and 3-view samples, from two scenes, sharing some view files
    assert {len(r["images"]) for r in records} == {2, 3} and len({r["scene_id"] for r in records}) == 2
    assert len(files) < sum(len(r["images"]) for r in records)
    return root


@pytest.fixture(scope="module")
def records(data) -> list[dict]:
    return manifest(data)
