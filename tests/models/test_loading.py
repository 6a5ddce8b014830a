"""Loading checkpoints: the layout real Qwen releases ship, unsupported and non-model directories."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from hatchvl.models import loading
from hatchvl.models.loading import load_model_and_processor, load_processor, read_family
from hatchvl.models.tiny import CHAT_TEMPLATE, SPECIAL_TOKENS

TEXT_KEYS = (
    "attention_dropout", "bos_token_id", "eos_token_id", "hidden_act", "hidden_size", "initializer_range",
    "intermediate_size", "max_position_embeddings", "max_window_layers", "num_attention_heads",
    "num_hidden_layers", "num_key_value_heads", "rms_norm_eps", "use_sliding_window", "vocab_size",
)  # fmt: skip
VISION_KEYS = (
    "depth", "hidden_act", "hidden_size", "intermediate_size", "num_heads", "out_hidden_size", "patch_size",
    "spatial_merge_size", "temporal_patch_size", "tokens_per_second", "window_size", "fullatt_block_indexes",
)  # fmt: skip


def write_like_qwen2_5_vl_3b(tiny: Path, out: Path) -> None:
    """Rewrite a tiny Qwen2.5-VL checkpoint with the files Qwen/Qwen2.5-VL-3B-Instruct ships.

    Flat transformers-4.49 config with `rope_scaling: mrope` and tied embeddings, bfloat16 weights
    in two shards with an index and no lm_head, vocab.json + merges.txt + tokenizer.json with a 4.x
    tokenizer_config, a preprocessor_config.json with min/max_pixels, chat_template.json.
    """
    out.mkdir()
    new = json.loads((tiny / "config.json").read_text())
    text, vision = new["text_config"], new["vision_config"]
    config = {
        "architectures": ["Qwen2_5_VLForConditionalGeneration"],
        "model_type": "qwen2_5_vl",
        **{key: text[key] for key in TEXT_KEYS},
        "sliding_window": 32768,
        "rope_theta": text["rope_parameters"]["rope_theta"],
        "rope_scaling": {"type": "mrope", "mrope_section": text["rope_parameters"]["mrope_section"]},
        "vision_config": {"in_chans": 3, "spatial_patch_size": 14, **{key: vision[key] for key in VISION_KEYS}},
        **{
            key: new[key]
            for key in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
        },
        "vision_token_id": new["image_token_id"] - 1,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.49.0.dev0",
        "use_cache": True,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))

    weights = {
        k: v.to(torch.bfloat16) for k, v in load_file(tiny / "model.safetensors").items() if k != "lm_head.weight"
    }
    shards = {"model-00001-of-00002.safetensors": {}, "model-00002-of-00002.safetensors": {}}
    for key, value in weights.items():
        shards[next(iter(shards)) if key.startswith("visual.") else list(shards)[1]][key] = value
    weight_map = {}
    for name, tensors in shards.items():
        save_file(tensors, out / name, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, name))
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))

    tokenizer = json.loads((tiny / "tokenizer.json").read_text())
    (out / "tokenizer.json").write_text(json.dumps(tokenizer))
    (out / "vocab.json").write_text(json.dumps(tokenizer["model"]["vocab"]))
    (out / "merges.txt").write_text("#version: 0.2\n")
    added = {
        str(256 + i): {"content": tok, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                       "special": True}
        for i, tok in enumerate(SPECIAL_TOKENS)
    }  # fmt: skip
    tokenizer_config = {
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": list(SPECIAL_TOKENS[1:]),
        "bos_token": None,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 131072,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    preprocessor = {
        "min_pixels": 3136,
        "max_pixels": 50176,
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2_5_VLProcessor",
    }
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    (out / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}))
    generation = {"bos_token_id": 256, "pad_token_id": 256, "eos_token_id": [258, 256], "do_sample": True}
    (out / "generation_config.json").write_text(json.dumps(generation))


def test_a_checkpoint_laid_out_like_qwen2_5_vl_3b_loads_like_the_tiny_one(
    tmp_path, tiny_dirs, tiny_loaded, random_image, chat_batch
):
    real = tmp_path / "Qwen2.5-VL-3B-Instruct"
    write_like_qwen2_5_vl_3b(tiny_dirs["qwen2_5_vl"], real)
    model, processor = load_model_and_processor(real)

    assert type(processor).__name__ == "Qwen2_5_VLProcessor" and not hasattr(processor, "video_processor")
    assert model.dtype == torch.bfloat16
    embed = model.get_input_embeddings().weight
    assert model.lm_head.weight.data_ptr() == embed.data_ptr(), "tie_word_embeddings must tie the head"

    tiny_model, tiny_processor = tiny_loaded["qwen2_5_vl"]
    expected = {k: v.to(torch.bfloat16) for k, v in tiny_model.state_dict().items() if k != "lm_head.weight"}
    got = model.state_dict()
    assert all(torch.equal(got[k], v) for k, v in expected.items())

    images = [[random_image(112, 168), random_image(480, 640, seed=1)]]
    inputs = chat_batch(processor, images)
    for key, value in chat_batch(tiny_processor, images).items():
        torch.testing.assert_close(inputs[key], value, rtol=0, atol=0)
    assert processor.tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS)) == list(range(256, 270))
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape[-1] == len(processor.tokenizer) and torch.isfinite(logits).all()


def test_qwen3_vl_processor_files_load_without_torchvision(tmp_path, tiny_dirs, tiny_loaded, random_image):
    real = tmp_path / "Qwen3-VL"
    real.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (real / name).write_bytes((tiny_dirs["qwen3_vl"] / name).read_bytes())
    image_settings = {
        "size": {"longest_edge": 50176, "shortest_edge": 3136},
        "patch_size": 16,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "processor_class": "Qwen3VLProcessor",
    }
    (real / "preprocessor_config.json").write_text(
        json.dumps({**image_settings, "image_processor_type": "Qwen2VLImageProcessorFast"})
    )
    (real / "video_preprocessor_config.json").write_text(
        json.dumps({**image_settings, "video_processor_type": "Qwen3VLVideoProcessor"})
    )
    processor = load_processor(real)
    _, tiny_processor = tiny_loaded["qwen3_vl"]
    image = random_image(200, 150)
    torch.testing.assert_close(
        processor.image_processor([image], return_tensors="pt")["pixel_values"],
        tiny_processor.image_processor([image], return_tensors="pt")["pixel_values"],
    )


def test_an_unsupported_architecture_lists_the_supported_families(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    save_file({"w": torch.zeros(1)}, tmp_path / "model.safetensors")
    with pytest.raises(
        ValueError, match="'llama' is not supported; supported families: qwen2_vl, qwen2_5_vl, qwen3_vl"
    ):
        load_model_and_processor(tmp_path)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no config.json"),
        ({"notes.txt": "hello"}, "no config.json"),
        ({"config.json": "{not json"}, "not valid JSON"),
        ({"config.json": "[1, 2]"}, "JSON object"),
        ({"config.json": json.dumps({"model_type": "qwen2_5_vl"})}, "no weight files"),
    ],
)
def test_a_directory_that_is_not_a_checkpoint_is_rejected(tmp_path, files, message):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=message):
        load_model_and_processor(tmp_path)


def test_a_file_is_not_a_checkpoint(tmp_path):
    (tmp_path / "model.safetensors").write_text("")
    with pytest.raises(ValueError, match="must be a checkpoint directory"):
        read_family(tmp_path / "model.safetensors")


def test_remote_code_is_not_trusted_by_default(tmp_path, tiny_dirs, monkeypatch):
    assert inspect.signature(load_model_and_processor).parameters["trust_remote_code"].default is False
    # A checkpoint that ships its own code: it must not run, however it is declared.
    marker = tmp_path / "ran"
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    auto_map = {"AutoConfig": "modeling_evil.EvilConfig", "AutoModelForImageTextToText": "modeling_evil.Evil"}
    (remote / "config.json").write_text(json.dumps({"model_type": "evil_vl", "auto_map": auto_map}))
    save_file({"w": torch.zeros(1)}, remote / "model.safetensors")
    with pytest.raises(ValueError, match="not supported"):
        load_model_and_processor(remote)
    assert not marker.exists()

    seen = {}
    original = loading.AutoModelForImageTextToText.from_pretrained

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(loading.AutoModelForImageTextToText, "from_pretrained", spy)
    load_model_and_processor(tiny_dirs["qwen2_vl"])
    assert seen["trust_remote_code"] is False
