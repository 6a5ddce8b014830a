"""Tiny randomly initialised Qwen VL checkpoints, built offline, for tests, demos and CPU experiments.

`init_tiny` writes a checkpoint in the standard Hugging Face layout (config.json, model.safetensors,
generation_config.json, tokenizer files, processor_config.json, chat_template.jinja) that
`load_model_and_processor` loads exactly as it loads a real checkpoint. Nothing is downloaded:

- the model is built from a config alone (about 0.4-0.5 M parameters by default, set by `TinySize`);
- the tokenizer is made in memory: byte-level (256 byte tokens + the Qwen special tokens, a
  `Qwen2Tokenizer` like the real one) or a small BPE trained on a text corpus. The BPE pre-tokenizer
  splits digits and nothing else, so merges span words and punctuation (an action list becomes ~16
  tokens instead of ~143); it is saved as a generic `TokenizersBackend` because `Qwen2Tokenizer`
  rebuilds its own pre-tokenizer on load;
- the processor is the family's image processor (PIL) with pixel limits for 112-224 px images.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
from tokenizers.models import BPE
from transformers import (
    AutoConfig,
    AutoModelForImageTextToText,
    GenerationConfig,
    PreTrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    ProcessorMixin,
    Qwen2Tokenizer,
    Qwen2VLImageProcessorPil,
    TokenizersBackend,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode

from hatchvl.models.loading import PROCESSOR_CLASSES, check_family

# The Qwen special tokens, in Qwen's id order (<|endoftext|> is 151643 in the real vocabulary).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# Qwen2-VL / Qwen2.5-VL's chat template (images and videos as content items).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\n" + DEFAULT_SYSTEM_PROMPT + "<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Per family: vision patch size (pixels) and image normalisation, as in the real checkpoints.
_PATCH_SIZE = {"qwen2_vl": 14, "qwen2_5_vl": 14, "qwen3_vl": 16}
_CLIP_MEAN, _CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
_IMAGE_NORM = {
    "qwen2_vl": (_CLIP_MEAN, _CLIP_STD),
    "qwen2_5_vl": (_CLIP_MEAN, _CLIP_STD),
    "qwen3_vl": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
}


@dataclass(frozen=True)
class TinySize:
    """Sizes of a tiny model. Head dims must be multiples of 4 (rotary embeddings).

    The defaults give about 0.4-0.5 M parameters, about 0.3 M of them in the vision tower and merger
    (the tower of docs/pasta.md, "Measured"), with the byte tokenizer.
    """

    vision_depth: int = 4
    vision_dim: int = 64
    vision_heads: int = 4
    text_dim: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    min_pixels: int = 56 * 56
    max_pixels: int = 224 * 224

    def __post_init__(self):
        for name, dim, heads in (
            ("vision", self.vision_dim, self.vision_heads),
            ("text", self.text_dim, self.text_heads),
        ):
            if heads < 1 or dim % heads or (dim // heads) % 4:
                raise ValueError(f"{name}_dim / {name}_heads must be a multiple of 4, got {dim} / {heads}")
        if self.text_kv_heads < 1 or self.text_heads % self.text_kv_heads:
            raise ValueError(
                f"text_heads must be a multiple of text_kv_heads, got {self.text_heads}, {self.text_kv_heads}"
            )
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {self.min_pixels}, {self.max_pixels}")


def byte_tokenizer() -> Qwen2Tokenizer:
    """A byte-level `Qwen2Tokenizer`: ids 0-255 are the bytes, then `SPECIAL_TOKENS` in order."""
    byte_to_char = bytes_to_unicode()
    vocab = {byte_to_char[b]: b for b in range(256)} | {tok: 256 + i for i, tok in enumerate(SPECIAL_TOKENS)}
    return Qwen2Tokenizer(vocab=vocab, merges=[], **_special_token_kwargs())


def bpe_tokenizer(corpus: Iterable[str], vocab_size: int = 512) -> TokenizersBackend:
    """A byte-level BPE trained on `corpus` (digits split, merges across words); specials last.

    `vocab_size` counts the 256 bytes and the merges; training stops earlier when no pair repeats.
    """
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256 (the byte alphabet), got {vocab_size}")
    backend = Tokenizer(BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    texts = [*corpus, f"system\n{DEFAULT_SYSTEM_PROMPT}", "user\n", "assistant\n"]
    backend.train_from_iterator(texts, trainer)
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    return TokenizersBackend(tokenizer_object=backend, **_special_token_kwargs())


def _special_token_kwargs() -> dict:
    return {
        "unk_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "extra_special_tokens": list(SPECIAL_TOKENS[1:]),
    }


def tiny_config(family: str, size: TinySize, tokenizer: PreTrainedTokenizerBase) -> PreTrainedConfig:
    """The model config of a tiny `family` model whose token ids match `tokenizer`."""
    check_family(family, "family")
    ids = {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in _TOKEN_IDS.items()}
    eos, pad = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    text_head_dim = size.text_dim // size.text_heads
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": size.text_dim,
        "intermediate_size": 3 * size.text_dim,
        "num_hidden_layers": size.text_layers,
        "num_attention_heads": size.text_heads,
        "num_key_value_heads": size.text_kv_heads,
        "max_position_embeddings": 4096,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": _mrope_section(text_head_dim // 2),
        },
        "bos_token_id": pad,
        "eos_token_id": eos,
        "pad_token_id": pad,
    }
    vision = {
        "depth": size.vision_depth,
        "num_heads": size.vision_heads,
        "patch_size": _PATCH_SIZE[family],
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    if family == "qwen2_vl":
        vision.update(embed_dim=size.vision_dim, hidden_size=size.text_dim, mlp_ratio=2)
    elif family == "qwen2_5_vl":
        vision.update(
            hidden_size=size.vision_dim,
            intermediate_size=2 * size.vision_dim,
            out_hidden_size=size.text_dim,
            window_size=112,
            fullatt_block_indexes=[size.vision_depth - 1],
        )
    else:
        text.update(head_dim=text_head_dim)
        text["rope_parameters"].update(mrope_interleaved=True)
        vision.update(
            hidden_size=size.vision_dim,
            intermediate_size=2 * size.vision_dim,
            out_hidden_size=size.text_dim,
            num_position_embeddings=64,
            deepstack_visual_indexes=[size.vision_depth // 2],
        )
    return AutoConfig.for_model(family, text_config=text, vision_config=vision, **ids)


_TOKEN_IDS = {
    "image_token_id": "<|image_pad|>",
    "video_token_id": "<|video_pad|>",
    "vision_start_token_id": "<|vision_start|>",
    "vision_end_token_id": "<|vision_end|>",
}


def _mrope_section(half_head_dim: int) -> list[int]:
    """Split the rotary half-dimension into (temporal, height, width) sections, as Qwen's 16/24/24."""
    t = half_head_dim // 4
    h = (half_head_dim - t) // 2
    return [t, h, half_head_dim - t - h]


def tiny_processor(family: str, tokenizer: PreTrainedTokenizerBase, size: TinySize) -> ProcessorMixin:
    """The image-only processor of `family` with `tokenizer`, the Qwen chat template and pixel limits."""
    mean, std = _IMAGE_NORM[check_family(family, "family")]
    image_processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": size.min_pixels, "longest_edge": size.max_pixels},
        patch_size=_PATCH_SIZE[family],
        image_mean=list(mean),
        image_std=list(std),
    )
    return PROCESSOR_CLASSES[family](image_processor, tokenizer, chat_template=CHAT_TEMPLATE)


def tiny_model(family: str, size: TinySize, tokenizer: PreTrainedTokenizerBase, seed: int = 0) -> PreTrainedModel:
    """A randomly initialised float32 model; the same `seed` gives the same weights."""
    config = tiny_config(family, size, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=config.text_config.bos_token_id,
        eos_token_id=[config.text_config.eos_token_id, config.text_config.pad_token_id],
        pad_token_id=config.text_config.pad_token_id,
    )
    return model


def init_tiny(
    family: str,
    out_dir: str | Path,
    seed: int = 0,
    tokenizer: str = "byte",
    corpus: Iterable[str] | None = None,
    size: TinySize = TinySize(),
    bpe_vocab_size: int = 512,
) -> Path:
    """Build a tiny `family` checkpoint and save it to `out_dir` (created; must be empty if it exists).

    Args:
        family: one of "qwen2_vl", "qwen2_5_vl", "qwen3_vl".
        seed: weights are a function of (family, size, tokenizer, seed) alone.
        tokenizer: "byte" (no corpus needed) or "bpe" (trained on `corpus`).
        corpus: texts for the BPE, e.g. the prompts and targets the model will see.
        bpe_vocab_size: BPE vocabulary size before the special tokens.

    Returns:
        The checkpoint directory.
    """
    check_family(family, "family")
    if tokenizer == "byte":
        tok = byte_tokenizer()
    elif tokenizer == "bpe":
        if corpus is None:
            raise ValueError("corpus is required when tokenizer='bpe'")
        tok = bpe_tokenizer(corpus, vocab_size=bpe_vocab_size)
    else:
        raise ValueError(f"tokenizer must be 'byte' or 'bpe', got {tokenizer!r}")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"out_dir {str(out)!r} exists and is not empty")
    tiny_model(family, size, tok, seed=seed).save_pretrained(out)
    tiny_processor(family, tok, size).save_pretrained(out)
    return out
