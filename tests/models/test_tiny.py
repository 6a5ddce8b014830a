"""Tiny checkpoints: build, save, reload with the loader, determinism, tokenizers, image sizes."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from hatchvl.models.backbone import parameter_counts
from hatchvl.models.loading import SUPPORTED_FAMILIES, load_model_and_processor
from hatchvl.models.tiny import (
    SPECIAL_TOKENS,
    TinySize,
    bpe_tokenizer,
    byte_tokenizer,
    init_tiny,
    tiny_model,
    tiny_processor,
)

ACTION_TEXT = (
    '<action>[{"from": 0, "to": 1, "actions": [{"turn_right_deg": 120}, {"move_forward_m": 1.2}, '
    '{"turn_left_deg": 150}]}]</action>\n<answer>C</answer>'
)


def action_corpus(count: int = 200) -> list[str]:
    rng = torch.Generator().manual_seed(0)
    texts = []
    for _ in range(count):
        a, b, c = torch.randint(1, 180, (3,), generator=rng).tolist()
        m = torch.randint(1, 40, (1,), generator=rng).item() / 10
        texts.append(
            f'<action>[{{"from": 0, "to": 1, "actions": [{{"turn_right_deg": {a}}}, {{"move_forward_m": {m}}}, '
            f'{{"turn_left_deg": {b}}}, {{"turn_up_deg": {c}}}]}}]</action>\n<answer>{"ABCD"[a % 4]}</answer>'
        )
    return texts


def test_checkpoint_has_the_standard_layout(tiny_dirs):
    names = {p.name for p in tiny_dirs["qwen2_5_vl"].iterdir()}
    expected = {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}
    assert expected <= names
    assert {"processor_config.json", "chat_template.jinja"} <= names
    assert (tiny_dirs["qwen2_5_vl"] / "processor_config.json").read_text().count('"Qwen2_5_VLProcessor"') == 1


@pytest.mark.parametrize("family", SUPPORTED_FAMILIES)
def test_reloaded_model_gives_the_outputs_of_the_built_one(family, tiny_loaded, random_image, chat_batch):
    loaded, processor = tiny_loaded[family]
    tokenizer = byte_tokenizer()
    built = tiny_model(family, TinySize(), tokenizer, seed=0)
    built_processor = tiny_processor(family, tokenizer, TinySize())
    images = [[random_image(112, 112), random_image(168, 224, seed=1)]]
    inputs = chat_batch(processor, images)
    for key, value in chat_batch(built_processor, images).items():
        torch.testing.assert_close(inputs[key], value, rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, built(**inputs).logits, rtol=0, atol=0)
    assert loaded.config.image_token_id == tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert 0.2e6 <= parameter_counts(loaded)["total"] <= 0.6e6


def test_same_seed_same_weights_other_seed_other_weights(tmp_path, tiny_dirs):
    again = load_file(init_tiny("qwen2_5_vl", tmp_path / "again", seed=0) / "model.safetensors")
    other = load_file(init_tiny("qwen2_5_vl", tmp_path / "other", seed=1) / "model.safetensors")
    first = load_file(tiny_dirs["qwen2_5_vl"] / "model.safetensors")
    assert first.keys() == again.keys() == other.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_byte_tokenizer_has_bytes_then_qwen_special_tokens():
    tokenizer = byte_tokenizer()
    assert len(tokenizer) == 256 + len(SPECIAL_TOKENS)
    assert tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(256, 256 + len(SPECIAL_TOKENS)))
    text = "Görüş 12.5° <|image_pad|>"
    ids = tokenizer(text).input_ids
    assert len(ids) == len("Görüş 12.5° ".encode()) + 1
    assert tokenizer.decode(ids) == text
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"


def test_bpe_tokenizer_shortens_actions_and_splits_digits():
    bpe = bpe_tokenizer(action_corpus())
    ids = bpe(ACTION_TEXT).input_ids
    assert len(ids) <= 25 < 100 < len(byte_tokenizer()(ACTION_TEXT).input_ids)
    assert bpe.decode(ids) == ACTION_TEXT
    pieces = [bpe.decode([i]) for i in ids]
    assert all(not any(ch.isdigit() for ch in piece) or len(piece) == 1 for piece in pieces)
    assert bpe.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(len(bpe) - len(SPECIAL_TOKENS), len(bpe)))
    assert bpe_tokenizer(action_corpus()).get_vocab() == bpe.get_vocab()


def test_bpe_checkpoint_reloads_with_the_same_tokenizer(tmp_path):
    corpus = action_corpus()
    path = init_tiny("qwen2_vl", tmp_path / "bpe", tokenizer="bpe", corpus=corpus)
    model, processor = load_model_and_processor(path)
    expected = bpe_tokenizer(corpus)
    assert processor.tokenizer(ACTION_TEXT).input_ids == expected(ACTION_TEXT).input_ids
    assert model.config.text_config.vocab_size == len(expected)
    assert model.config.image_token_id == expected.convert_tokens_to_ids("<|image_pad|>")


@pytest.mark.parametrize(
    ("size", "grid"),
    [((112, 112), [1, 8, 8]), ((224, 224), [1, 16, 16]), ((480, 640), [1, 12, 18])],
)
def test_image_sizes_suit_112_to_224_pixel_views(size, grid, tiny_loaded, random_image):
    """112 and 224 px views keep their size; a 640×480 frame shrinks to 252×168 (at most 224² pixels)."""
    _, processor = tiny_loaded["qwen2_5_vl"]
    out = processor.image_processor([random_image(*size)], return_tensors="pt")
    assert out["image_grid_thw"][0].tolist() == grid


def test_chat_template_places_one_image_token_per_merged_patch(tiny_loaded, random_image, chat_batch):
    model, processor = tiny_loaded["qwen3_vl"]
    inputs = chat_batch(processor, [[random_image(128, 128)]])
    text = processor.tokenizer.decode(inputs["input_ids"][0])
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert text.endswith("Where?<|im_end|>\n<|im_start|>assistant\n")
    assert (inputs["input_ids"] == model.config.image_token_id).sum() == 4 * 4  # 128 px / 32 px per token


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="corpus is required"):
        init_tiny("qwen2_vl", tmp_path / "a", tokenizer="bpe")
    with pytest.raises(ValueError, match="tokenizer must be"):
        init_tiny("qwen2_vl", tmp_path / "b", tokenizer="word")
    with pytest.raises(ValueError, match="family: model_type 'llama' is not supported.*qwen2_5_vl"):
        init_tiny("llama", tmp_path / "c")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("x")
    with pytest.raises(ValueError, match="out_dir .* not empty"):
        init_tiny("qwen2_vl", tmp_path / "d")


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"vision_dim": 60}, "vision_dim / vision_heads"),
        ({"text_kv_heads": 3}, "text_kv_heads"),
        ({"min_pixels": 10**6}, "min_pixels"),
    ],
)
def test_inconsistent_sizes_are_rejected(sizes, message):
    with pytest.raises(ValueError, match=message):
        TinySize(**sizes)
