"""Which checkpoint a stage resumes from: the newest *complete* one.

A stage killed while the trainer writes `checkpoint-N/` leaves a torn folder: a weight file cut short,
no `trainer_state.json` (the trainer writes it last), or a half-written one. Resuming from it would die
in the middle of loading. A checkpoint is complete when

- `trainer_state.json` parses and names its global step;
- every safetensors weight file it should hold (model.safetensors, the shards its index names, LoRA's
  adapter_model.safetensors) is there, its header parses, and its size is exactly what the header says;
- or, without safetensors weights, it holds a DeepSpeed (`global_step*`) or FSDP (`pytorch_model_fsdp*`)
  state, which those engines verify themselves.

A torn checkpoint newer than the one resumed from is moved aside, never deleted, to
`torn-checkpoint-N-<time>/` (a name the trainer's checkpoint rotation does not touch; `-2`, `-3`, ... added
when it is taken), with one line saying so.
"""

from __future__ import annotations

import json
import re
import struct
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hatchvl.io import read_json

if TYPE_CHECKING:
    from transformers import PreTrainedModel

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_weight_files(checkpoint: str | Path) -> list[Path]:
    """The safetensors files of a checkpoint folder (one file, or the shards its index names)."""
    folder = Path(checkpoint)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return [folder / name for name in sorted(set(read_json(index)["weight_map"].values()))]
    return [folder / "model.safetensors"] if (folder / "model.safetensors").is_file() else []


def checkpoint_key_renamer(model: PreTrainedModel):
    """A function from a checkpoint's key to the model's own name for it, renaming as from_pretrained does
    (the original Qwen layout `visual.*`, `model.*` -> `model.visual.*`, `model.language_model.*`).

    The function raises NotImplementedError for keys whose tensors need converting, not only renaming
    (none of the supported families)."""
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightConverter, WeightRenaming, rename_source_key

    transforms = get_model_conversion_mapping(model)
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]
    own = model.state_dict()

    def rename(key: str) -> str:
        name, converter = rename_source_key(key, renamings, converters, model.base_model_prefix, own)
        if converter is not None:
            raise NotImplementedError(f"weight {key} needs a conversion, not a renaming")
        return name

    return rename


def safetensors_problem(path: Path) -> str | None:
    """Why a safetensors file is not whole (None when its header parses and its size matches it)."""
    try:
        with open(path, "rb") as f:
            size = path.stat().st_size
            (length,) = struct.unpack("<Q", f.read(8))
            if length > size - 8:
                return f"{path.name}: header longer than the file"
            header = json.loads(f.read(length))
    except (OSError, struct.error, ValueError) as err:
        return f"{path.name}: {type(err).__name__}: {err}"
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    expected = 8 + length + max(ends, default=0)
    return None if size == expected else f"{path.name}: {size} bytes, its header says {expected}"


def checkpoint_problem(folder: str | Path) -> str | None:
    """Why a checkpoint folder is torn (module docstring), or None when it is complete."""
    folder = Path(folder)
    try:
        state = json.loads((folder / "trainer_state.json").read_text())
        if not isinstance(state, dict) or "global_step" not in state:
            return "trainer_state.json has no global_step"
    except (OSError, ValueError) as err:
        return f"trainer_state.json: {type(err).__name__}"
    try:
        weights = checkpoint_weight_files(folder)
    except (OSError, ValueError, KeyError) as err:
        return f"model.safetensors.index.json: {type(err).__name__}"
    if (folder / "adapter_model.safetensors").exists():
        weights.append(folder / "adapter_model.safetensors")
    if not weights:
        engine = any(folder.glob("global_step*")) or any(folder.glob("pytorch_model_fsdp*"))
        return None if engine else "no weights"
    for path in weights:
        problem = safetensors_problem(path) if path.exists() else f"{path.name} is missing"
        if problem:
            return problem
    return None


def _free_name(path: Path) -> Path:
    """path, or path-2, path-3, ... if it exists (the same checkpoint torn twice within a second)."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def newest_complete_checkpoint(out: str | Path, move_torn: bool = True) -> str | None:
    """The newest complete `checkpoint-N` of a stage folder (None: start afresh). With move_torn (the main
    process), torn checkpoints newer than it are moved aside, each with one line on stderr."""
    out = Path(out)
    if not out.is_dir():
        return None
    numbered = sorted(((int(m.group(1)), p) for p in out.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))),
                      reverse=True)
    for step, folder in numbered:
        problem = checkpoint_problem(folder)
        if problem is None:
            return str(folder)
        if move_torn and folder.exists():
            aside = _free_name(out / f"torn-checkpoint-{step}-{time.strftime('%Y%m%d-%H%M%S')}")
            folder.rename(aside)
            print(f"{folder} is torn ({problem}): moved aside to {aside.name}; resuming from the newest complete "
                  "checkpoint", file=sys.stderr)
    return None
