"""A stand-in for Qwen2.5-VL-3B-Instruct, built offline: the real configuration with random weights, a
tokenizer that covers all of its 151,936 token ids, and the real image processor settings.

It has the real model's shapes, memory and compute (3,754,622,976 parameters), so that a GPU machine
without network access can run every stage at full size (benchmarks/gpu_check.py, docs/distributed.md,
"The GPU check"). It knows no language: the tokenizer is byte-level with no merges (text encodes to
bytes), every other id decodes to some string, and Qwen's special tokens sit at their real ids.

`qwen2_5_vl_3b_config(vision_depth=...)` also gives the real vision tower with fewer blocks, for
measuring activation memory per block on a CPU (hatchvl.models.memory).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForImageTextToText,
    GenerationConfig,
    PreTrainedConfig,
    PreTrainedModel,
    ProcessorMixin,
    Qwen2Tokenizer,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode

from hatchvl.models.tiny import SPECIAL_TOKENS, TinySize, _special_token_kwargs, tiny_processor

PARAMETERS_3B = 3_754_622_976  # Qwen2.5-VL-3B-Instruct, tied input and output embeddings
VOCAB_SIZE = 151_936
FIRST_SPECIAL_ID = 151_643  # <|endoftext|>; SPECIAL_TOKENS follow in order, as in the real vocabulary
MIN_PIXELS, MAX_PIXELS = 56 * 56, 28 * 28 * 16384  # the released preprocessor_config.json: 3136, 12845056

# Qwen2.5-VL-3B-Instruct's config.json, in transformers 5's layout (rope_scaling became rope_parameters).
TEXT_3B = {
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-6,
    "hidden_act": "silu",
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
    "tie_word_embeddings": True,
}
VISION_3B = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "out_hidden_size": 2048,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "hidden_act": "silu",
    "tokens_per_second": 2,
}


def special_id(token: str) -> int:
    """The real Qwen id of one of SPECIAL_TOKENS."""
    return FIRST_SPECIAL_ID + SPECIAL_TOKENS.index(token)


def stand_in_tokenizer() -> Qwen2Tokenizer:
    """A byte-level `Qwen2Tokenizer` over all VOCAB_SIZE ids: 0-255 the bytes, SPECIAL_TOKENS at their real
    ids, every other id a distinct three-byte string (so that any sampled id decodes)."""
    byte_to_char = bytes_to_unicode()
    vocab = {byte_to_char[b]: b for b in range(256)}
    specials = {token: special_id(token) for token in SPECIAL_TOKENS}
    taken = set(specials.values())
    for k in range(256, VOCAB_SIZE):
        if k not in taken:
            vocab["".join(byte_to_char[b] for b in k.to_bytes(3, "big"))] = k
    return Qwen2Tokenizer(vocab=vocab | specials, merges=[], **_special_token_kwargs())


def qwen2_5_vl_3b_config(vision_depth: int | None = None, text_layers: int | None = None) -> PreTrainedConfig:
    """Qwen2.5-VL-3B-Instruct's configuration; `vision_depth` / `text_layers` keep only that many vision
    blocks / language model layers (the full-attention blocks that remain keep their indexes)."""
    text, vision = dict(TEXT_3B), dict(VISION_3B)
    if vision_depth is not None:
        vision["depth"] = vision_depth
        vision["fullatt_block_indexes"] = [i for i in VISION_3B["fullatt_block_indexes"] if i < vision_depth]
    if text_layers is not None:
        text["num_hidden_layers"] = text_layers
    ids = {"bos_token_id": special_id("<|endoftext|>"), "eos_token_id": special_id("<|im_end|>"),
           "pad_token_id": special_id("<|endoftext|>")}
    return AutoConfig.for_model(
        "qwen2_5_vl", text_config=text | ids, vision_config=vision, tie_word_embeddings=True,
        image_token_id=special_id("<|image_pad|>"), video_token_id=special_id("<|video_pad|>"),
        vision_start_token_id=special_id("<|vision_start|>"), vision_end_token_id=special_id("<|vision_end|>"),
    )


def stand_in_processor(tokenizer, max_pixels: int = MAX_PIXELS) -> ProcessorMixin:
    """The Qwen2.5-VL processor (image-only, hatchvl.models.loading) with the released pixel limits."""
    return tiny_processor("qwen2_5_vl", tokenizer, TinySize(min_pixels=MIN_PIXELS, max_pixels=max_pixels))


def stand_in_model(config: PreTrainedConfig, dtype: torch.dtype = torch.bfloat16, device: str = "cpu",
                   seed: int = 0) -> PreTrainedModel:
    """Random weights of `config` (on `device`: initialising 3.75 B parameters is much faster on a GPU)."""
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype)
    text = config.text_config
    model.generation_config = GenerationConfig(bos_token_id=text.bos_token_id, pad_token_id=text.pad_token_id,
                                               eos_token_id=[text.eos_token_id, text.pad_token_id])
    return model


def save_stand_in(out_dir: str | Path, config: PreTrainedConfig, processor: ProcessorMixin, device: str = "cpu",
                  dtype: torch.dtype = torch.bfloat16) -> Path:
    """Build a stand-in checkpoint of `config` in `out_dir` (loadable like a downloaded one)."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"out_dir {str(out)!r} exists and is not empty")
    model = stand_in_model(config, dtype=dtype, device=device)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
