"""The Qwen2.5-VL-3B stand-in: the real configuration (its parameter count), a tokenizer over every id with the
special tokens at their real ids, the real processor settings, and a checkpoint that loads like any other."""

import pytest
import torch

from hatchvl.models.backbone import parameter_counts
from hatchvl.models.loading import image_settings, load_model_and_processor
from hatchvl.models.stand_in import (
    PARAMETERS_3B,
    VOCAB_SIZE,
    qwen2_5_vl_3b_config,
    save_stand_in,
    special_id,
    stand_in_model,
    stand_in_processor,
    stand_in_tokenizer,
)
from hatchvl.models.tiny import TinySize, byte_tokenizer, tiny_config, tiny_processor


@pytest.fixture(scope="module")
def tokenizer():
    return stand_in_tokenizer()


def test_the_stand_in_has_the_3b_models_parameters_and_token_ids(tokenizer):
    config = qwen2_5_vl_3b_config()
    counts = parameter_counts(stand_in_model(config, device="meta"))
    assert counts["total"] == PARAMETERS_3B == 3_754_622_976
    assert counts["vision_tower"] + counts["merger"] == 668_684_288
    for name, token in (("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
                        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>")):
        assert getattr(config, name) == tokenizer.convert_tokens_to_ids(token) == special_id(token)
    assert config.text_config.eos_token_id == tokenizer.eos_token_id == 151645
    shallow = qwen2_5_vl_3b_config(vision_depth=8, text_layers=2)
    assert shallow.vision_config.depth == 8 and shallow.vision_config.fullatt_block_indexes == [7]
    assert shallow.text_config.num_hidden_layers == 2


def test_the_tokenizer_covers_every_id_and_encodes_text_as_bytes(tokenizer):
    assert len(tokenizer) == VOCAB_SIZE
    assert special_id("<|endoftext|>") == 151643 and special_id("<|image_pad|>") == 151655
    assert tokenizer("Hi <|image_pad|>").input_ids == [72, 105, 32, 151655]
    for ids in ([0, 255], [256, 70000], [151642], [151657, VOCAB_SIZE - 1]):
        assert isinstance(tokenizer.decode(ids), str) and tokenizer.decode(ids)


def test_the_processor_has_the_released_settings_and_a_640x480_view_is_1564_patches(tokenizer):
    processor = stand_in_processor(tokenizer)
    settings = image_settings(processor)
    assert (settings["patch_size"], settings["merge_size"]) == (14, 2)
    assert (settings["min_pixels"], settings["max_pixels"]) == (3136, 12845056)
    assert settings["image_token_id"] == 151655
    assert processor.image_processor.get_number_of_image_patches(480, 640, {}) == 1564


def test_a_saved_stand_in_loads_like_a_downloaded_checkpoint(tmp_path):
    small = byte_tokenizer()
    out = save_stand_in(tmp_path / "m", tiny_config("qwen2_5_vl", TinySize(), small),
                        tiny_processor("qwen2_5_vl", small, TinySize()))
    model, processor = load_model_and_processor(out)
    assert model.dtype == torch.bfloat16 and processor.tokenizer.eos_token == "<|im_end|>"
    assert model.generation_config.eos_token_id == [small.eos_token_id, small.pad_token_id]
    with pytest.raises(ValueError, match="not empty"):
        save_stand_in(out, model.config, processor)
