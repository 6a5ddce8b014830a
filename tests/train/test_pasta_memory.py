"""PaStA's memory: activation checkpointing of the vision blocks, the estimate from the measured table, the
check that refuses a step that cannot fit the visible GPUs, and max_pixels."""

from pathlib import Path

import pytest
import torch
import yaml
from transformers import TrainerCallback

from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.models import memory
from hatchvl.models.backbone import parameter_counts
from hatchvl.models.memory import MEASURED, SavedActivations, pasta_memory, precision_of
from hatchvl.models.stand_in import qwen2_5_vl_3b_config, stand_in_model, stand_in_processor, stand_in_tokenizer
from hatchvl.models.tiny import init_tiny
from hatchvl.train.options import PastaOptions
from hatchvl.train.pasta import limit_pixels, run_pasta

RECIPE = Path(__file__).parents[2] / "configs" / "qwen2.5-vl-3b.yaml"
GB = 1e9

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pasta-memory-data")
    synthesize(root, SynthConfig(scenes=2, seed=1, size=64, views=(3, 3), samples_per_scene=2,
                                 split=(1.0, 0.0, 0.0)))
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return init_tiny("qwen2_5_vl", tmp_path_factory.mktemp("pasta-memory-model") / "tiny")


class CountSaved(TrainerCallback):
    """The bytes autograd saves during each training step (forward to backward), weights left out."""

    def __init__(self):
        self.steps: list[int] = []

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        self.saved = SavedActivations(model.parameters()).__enter__()

    def on_step_end(self, args, state, control, **kwargs):
        self.saved.__exit__(None, None, None)
        self.steps.append(self.saved.bytes)


def one_step(tiny, data, out, **kw) -> tuple[int, dict]:
    counter = CountSaved()
    opts = PastaOptions(model=str(tiny), data=str(data), out=str(out), max_steps=1, batch_size=2, save_steps=100,
                        report_to=[], **kw)
    metrics = run_pasta(opts, callbacks=[counter])
    assert len(counter.steps) == 1
    return counter.steps[0], metrics


def test_activation_checkpointing_keeps_a_fraction_of_the_towers_activations(tiny, data, tmp_path, monkeypatch):
    plain, metrics = one_step(tiny, data, tmp_path / "plain")
    assert "memory_estimate_bytes" not in metrics  # no CUDA: no check
    monkeypatch.setattr(memory, "visible_gpu_memory", lambda: 10**12)  # a GPU of 1 TB, and the tiny tower
    monkeypatch.setattr(memory, "matches_measured", lambda config: True)  # taken for the measured one
    checkpointed, metrics = one_step(tiny, data, tmp_path / "checkpointed", activation_checkpointing=True)
    # the tiny tower's 4 blocks keep 5.4 KB per patch each in fp32, 0.26 KB checkpointed; the 6 KB per patch
    # outside the blocks (patch embedding input, merger, loss) stay
    assert checkpointed < 0.4 * plain, (checkpointed, plain)
    assert 0 < metrics["memory_estimate_bytes"] < 10**12


def test_a_step_that_cannot_fit_the_gpus_fails_before_training_naming_the_keys(tiny, data, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "visible_gpu_memory", lambda: 10**6)  # 1 MB
    monkeypatch.setattr(memory, "matches_measured", lambda config: True)
    opts = PastaOptions(model=str(tiny), data=str(data), out=str(tmp_path), max_steps=1, batch_size=2, report_to=[],
                        max_pixels=56 * 56)
    with pytest.raises(ValueError, match=r"needs about [\d.]+ GB per GPU") as caught:
        run_pasta(opts)
    message = str(caught.value)
    for key in ("batch_size 2", "views 3", "patches per view (max_pixels 3136)", "activation_checkpointing false"):
        assert key in message, message
    assert not (tmp_path / "stage.json").exists() and not list(tmp_path.glob("checkpoint-*"))


def test_the_estimate_follows_the_measured_table():
    row = MEASURED["bfloat16", False]
    estimate = pasta_memory(4, 3, 1564, 32, "bfloat16", False, trainable_bytes=10, frozen_bytes=7)
    assert estimate.patches == 4 * 3 * 1564
    assert estimate.activations == 18768 * (32 * row.per_patch_block + row.per_patch) + row.fixed
    assert estimate.weights == 47 and estimate.total == estimate.activations + 47
    checkpointed = pasta_memory(4, 3, 1564, 32, "bfloat16", True)
    assert checkpointed.activations < estimate.activations / 8
    assert 38 * GB < estimate.activations < 42 * GB  # 18,768 patches x 32 blocks x 65.8 KB
    assert pasta_memory(8, 3, 1564, 32, "float32", False).activations > 2 * estimate.activations
    assert precision_of(torch.bfloat16, True) == precision_of("float16", False) == "bfloat16"
    assert precision_of("float32", True) == "autocast" and precision_of(torch.float32, False) == "float32"
    with pytest.raises(ValueError, match="precision must be one of"):
        pasta_memory(1, 2, 100, 32, "int8", False)
    with pytest.raises(ValueError, match="must be >= 1"):
        pasta_memory(0, 2, 100, 32, "bfloat16", False)


def test_the_3b_recipe_caps_views_at_1564_patches_and_its_pasta_step_fits_an_80_gb_gpu():
    stage = yaml.safe_load(RECIPE.read_text())["stages"]["pasta"]
    assert stage["activation_checkpointing"] is True
    processor = stand_in_processor(stand_in_tokenizer())
    limit_pixels(processor, stage["max_pixels"])
    patches = processor.image_processor.get_number_of_image_patches
    assert patches(480, 640, {}) == 1564 and patches(960, 1280, {}) <= 1564
    config = qwen2_5_vl_3b_config()
    assert memory.matches_measured(config.vision_config)  # the table is the 3B tower's: the check applies
    counts = parameter_counts(stand_in_model(config, device="meta"))
    trainable = 4 * (counts["vision_tower"] + counts["merger"])  # fp32 tower under bf16 autocast
    frozen = 2 * counts["language_model"]  # the bf16 language model, which never runs
    fits = pasta_memory(stage["batch_size"], 3, 1564, 32, "autocast", True, trainable, frozen)
    assert fits.total < 40 * GB
    assert pasta_memory(8, 4, 1564, 32, "autocast", False, trainable, frozen).total > 80 * GB


def test_max_pixels_must_be_a_real_image_size():
    with pytest.raises(ValueError, match="max_pixels must be >= 3136"):
        PastaOptions(model="m", data="d", out="o", max_pixels=100)
