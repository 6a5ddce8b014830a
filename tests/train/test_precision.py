"""Training in a recipe's precision settings updates the weights: low-precision weights get fp32 masters
(train.common.keep_fp32_masters), and pure bf16 is refused when the options are built."""

from pathlib import Path

import pytest
import torch
import yaml
from transformers import TrainerCallback

from hatchvl.train.common import train_and_finish
from hatchvl.train.options import PastaOptions, SFTOptions
from hatchvl.train.pasta import run_pasta
from hatchvl.train.sft import build_sft_trainer

CONFIGS = Path(__file__).parents[2] / "configs"


def recipe_precisions() -> list[tuple[str, str, bool, float]]:
    """(recipe, dtype, bf16, smallest learning rate) of every recipe's training stages."""
    found = {}
    for path in sorted(CONFIGS.glob("*.yaml")):
        for stage in yaml.safe_load(path.read_text())["stages"].values():
            if not isinstance(stage, dict) or "learning_rate" not in stage:
                continue
            key = (path.stem, stage.get("dtype", "auto"), bool(stage.get("bf16", False)))
            found[key] = min(found.get(key, 1.0), float(stage["learning_rate"]))
    return [(*key, lr) for key, lr in sorted(found.items())]


class ChangedShare(TrainerCallback):
    """Share of the trainable elements that training changed, between on_train_begin and on_train_end."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.before = {n: p.detach().to(torch.float32).clone() for n, p in model.named_parameters() if p.requires_grad}

    def on_train_end(self, args, state, control, model=None, **kwargs):
        after = {n: p.detach().to(torch.float32) for n, p in model.named_parameters() if p.requires_grad}
        changed = sum(int((after[n] != self.before[n]).sum()) for n in self.before)
        self.share = changed / sum(t.numel() for t in self.before.values())


def one_step(kind: str, tiny_model, tiny_data, out: Path, dtype: str, bf16: bool, lr: float, masters: bool = True):
    """One optimizer step of a stage through its own code; the share of trainable elements it changed."""
    common = dict(model=str(tiny_model), data=str(tiny_data), out=str(out), max_steps=1, batch_size=2, dtype=dtype,
                  bf16=bf16, learning_rate=lr, warmup_steps=0, save_steps=100, report_to=[])
    share = ChangedShare()
    if kind == "pasta":
        run_pasta(PastaOptions(**common, grid=2, weight_decay=0.0), callbacks=[share])
        return share.share
    opts = SFTOptions(**common, target="answer")
    trainer, processor, _ = build_sft_trainer(opts)
    trainer.add_callback(share)
    if masters:
        train_and_finish(trainer, processor, opts, {})
    else:
        trainer.train()
    return share.share


@pytest.mark.parametrize("recipe, dtype, bf16, lr", recipe_precisions())
@pytest.mark.parametrize("kind", ["sft", "pasta"])
def test_one_step_changes_most_trainable_weights(kind, recipe, dtype, bf16, lr, tiny_model, tiny_data, tmp_path,
                                                 one_torch_thread):
    assert one_step(kind, tiny_model, tiny_data, tmp_path, dtype, bf16, lr) >= 0.5


def test_pure_bf16_leaves_most_weights_unchanged(tiny_model, tiny_data, tmp_path, one_torch_thread):
    """Why the masters are there: the same step on the bf16 weights themselves (lr 1e-6, the 3B GRPO's)."""
    assert one_step("sft", tiny_model, tiny_data, tmp_path, "bfloat16", True, 1e-6, masters=False) < 0.2


def test_pure_bf16_options_are_refused(tiny_model, tiny_data, tmp_path):
    with pytest.raises(ValueError, match="bf16: true"):
        SFTOptions(model=str(tiny_model), data=str(tiny_data), out=str(tmp_path), dtype="bfloat16", bf16=False)


def test_a_bf16_stage_is_saved_in_bf16(tiny_model, tiny_data, tmp_path, one_torch_thread):
    """The fp32 masters are for training; the saved model keeps the dtype it was loaded in."""
    from safetensors import safe_open

    one_step("sft", tiny_model, tiny_data, tmp_path, "bfloat16", True, 1e-3)
    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}  # noqa: SIM118
