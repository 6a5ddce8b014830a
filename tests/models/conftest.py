"""Shared fixtures for the models tests: one tiny checkpoint per family, built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hatchvl.models.loading import SUPPORTED_FAMILIES, load_model_and_processor
from hatchvl.models.tiny import init_tiny


def _random_image(height: int, width: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _chat_batch(processor, images_per_sample: list[list[Image.Image]]) -> dict[str, torch.Tensor]:
    texts = [
        processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}] * len(images) + [{"type": "text", "text": "Where?"}]}],
            add_generation_prompt=True,
        )
        for images in images_per_sample
    ]
    flat = [image for images in images_per_sample for image in images]
    return processor(text=texts, images=flat, padding=True, return_tensors="pt")


@pytest.fixture
def random_image():
    """`random_image(height, width, seed=0)`: a uint8 RGB noise image."""
    return _random_image


@pytest.fixture
def chat_batch():
    """`chat_batch(processor, images_per_sample)`: processor inputs, one chat per sample (its images, a question)."""
    return _chat_batch


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {family: init_tiny(family, root / family) for family in SUPPORTED_FAMILIES}


@pytest.fixture(scope="session")
def tiny_loaded(tiny_dirs) -> dict[str, tuple]:
    return {family: load_model_and_processor(path) for family, path in tiny_dirs.items()}
