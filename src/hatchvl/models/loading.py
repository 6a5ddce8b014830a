"""Load a supported vision-language checkpoint and its processor with transformers' Auto classes.

Supported families (by `config.model_type`): Qwen2-VL, Qwen2.5-VL, Qwen3-VL. A checkpoint is a
directory in the standard Hugging Face layout (config.json, *.safetensors, tokenizer files,
preprocessor_config.json or processor_config.json, a chat template) or a hub id where a network exists.

The processor is the family's stock processor without its video processor: in transformers 5.x the
stock Qwen VL processors cannot be built without torchvision (their video processor needs it), and
hatchvl only feeds images. The image processor is whatever `AutoImageProcessor` picks (torchvision
where installed, else its PIL implementation).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    AutoModelForImageTextToText,
    PreTrainedConfig,
    PreTrainedModel,
    ProcessorMixin,
    Qwen2_5_VLProcessor,
    Qwen2VLProcessor,
    Qwen3VLProcessor,
)

from hatchvl.io import read_json


def _image_only(stock: type[ProcessorMixin]) -> type[ProcessorMixin]:
    """`stock` without a video processor; same class name, so what it saves is the stock layout."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        stock.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    doc = f"{stock.__name__} without its video processor (which needs torchvision in transformers 5.x)."
    return type(stock.__name__, (stock,), {"__init__": __init__, "__module__": __name__, "__doc__": doc})


PROCESSOR_CLASSES: dict[str, type[ProcessorMixin]] = {
    "qwen2_vl": _image_only(Qwen2VLProcessor),
    "qwen2_5_vl": _image_only(Qwen2_5_VLProcessor),
    "qwen3_vl": _image_only(Qwen3VLProcessor),
}
SUPPORTED_FAMILIES: tuple[str, ...] = tuple(PROCESSOR_CLASSES)


def check_family(model_type: str | None, where: str) -> str:
    """Return `model_type` if it is a supported family, else raise ValueError naming `where`."""
    if model_type not in PROCESSOR_CLASSES:
        raise ValueError(
            f"{where}: model_type {model_type!r} is not supported; supported families: {', '.join(SUPPORTED_FAMILIES)}"
        )
    return model_type


def read_family(path_or_id: str | Path) -> str:
    """The family (`config.model_type`) of a checkpoint, read from its config before any model code runs.

    Raises ValueError for a local path that is not a checkpoint directory with a config.json, or for
    an unsupported model type; for a hub id transformers fetches the config.
    """
    path = Path(path_or_id)
    if path.exists():
        config = _read_local_config(path)
    else:
        config, _ = PreTrainedConfig.get_config_dict(str(path_or_id))
    return check_family(config.get("model_type"), f"path_or_id {str(path_or_id)!r}")


def _read_local_config(path: Path) -> dict:
    if not path.is_dir():
        raise ValueError(f"path_or_id must be a checkpoint directory, got the file {str(path)!r}")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ValueError(
            f"path_or_id {str(path)!r} is not a model checkpoint: it has no config.json "
            "(expected the Hugging Face layout: config.json, *.safetensors, tokenizer files, "
            "preprocessor_config.json)"
        )
    try:
        config = read_json(config_file)
    except json.JSONDecodeError as err:
        raise ValueError(f"path_or_id {str(path)!r}: config.json is not valid JSON ({err})") from err
    if not isinstance(config, dict):
        raise ValueError(f"path_or_id {str(path)!r}: config.json must hold a JSON object")
    return config


def load_processor(path_or_id: str | Path, trust_remote_code: bool = False) -> ProcessorMixin:
    """The image-only processor of a supported checkpoint (see the module docstring)."""
    family = read_family(path_or_id)
    return PROCESSOR_CLASSES[family].from_pretrained(str(path_or_id), trust_remote_code=trust_remote_code)


def load_model_and_processor(
    path_or_id: str | Path,
    dtype: str | torch.dtype = "auto",
    trust_remote_code: bool = False,
    device_map: str | dict | None = None,
    attn_implementation: str | None = None,
) -> tuple[PreTrainedModel, ProcessorMixin]:
    """Load a Qwen2-VL / Qwen2.5-VL / Qwen3-VL checkpoint and its processor.

    Args:
        path_or_id: checkpoint directory (standard Hugging Face layout) or hub id.
        dtype: torch dtype name ("float32", "bfloat16", ...) or "auto" for the stored dtype.
        trust_remote_code: passed to transformers; the supported families need no remote code.
        device_map, attn_implementation: passed to `from_pretrained` (None: transformers' defaults).

    Returns:
        (model, processor): an `AutoModelForImageTextToText` model and the family's image-only processor.

    Raises:
        ValueError: not a model checkpoint, or an unsupported `model_type` (the message lists the
            supported families).
    """
    read_family(path_or_id)
    path = Path(path_or_id)
    if path.is_dir() and not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise ValueError(f"path_or_id {str(path)!r} is not a model checkpoint: it has no weight files")
    model = AutoModelForImageTextToText.from_pretrained(
        str(path_or_id),
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        device_map=device_map,
        attn_implementation=attn_implementation,
    )
    return model, load_processor(path_or_id, trust_remote_code=trust_remote_code)


def image_settings(processor: ProcessorMixin) -> dict[str, object]:
    """How the processor turns an image into tokens: placeholder token, patch and merge size, pixel limits.

    transformers keeps the Qwen pixel limits (total pixels, not edges) in `size.shortest_edge` and
    `size.longest_edge`; a real `preprocessor_config.json` names them min_pixels and max_pixels.
    """
    image_processor = processor.image_processor
    return {
        "image_token": processor.image_token,
        "image_token_id": processor.image_token_id,
        "patch_size": image_processor.patch_size,
        "merge_size": image_processor.merge_size,
        "min_pixels": image_processor.size.shortest_edge,
        "max_pixels": image_processor.size.longest_edge,
    }


def inference_device() -> str:
    """Where this process measures and evaluates: its GPU (LOCAL_RANK under a launcher), else the CPU."""
    import os

    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu"


def inference_placement(training_dtype: str = "auto") -> tuple[str, str]:
    """(device, dtype) for measuring and evaluating a model: this process's GPU in the dtype it was trained in
    where CUDA exists, never the CPU in float32 there; the CPU in float32 otherwise (CPUs run bf16 matrix
    products slowly, and the tiny models are trained in float32)."""
    device = inference_device()
    return device, ("float32" if device == "cpu" else training_dtype)


def load_for_inference(path_or_id: str | Path, training_dtype: str = "auto") -> tuple[PreTrainedModel, ProcessorMixin]:
    """`load_model_and_processor` placed by `inference_placement`, in eval mode."""
    device, dtype = inference_placement(training_dtype)
    model, processor = load_model_and_processor(path_or_id, dtype=dtype)
    return model.to(device).eval(), processor
