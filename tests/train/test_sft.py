"""The SFT stage on TRL's SFTTrainer: completion-only loss, processor fields, checkpoints, resume, LoRA."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from hatchvl.models.loading import load_model_and_processor
from hatchvl.objectives.prompts import target_text
from hatchvl.train.checkpoints import newest_complete_checkpoint
from hatchvl.train.data import load_samples
from hatchvl.train.options import SFTOptions
from hatchvl.train.sft import build_sft_trainer, run_sft


def options(tiny_model, tiny_data, out, **kw):
    base = dict(model=str(tiny_model), data=str(tiny_data), out=str(out), target="action_answer", max_steps=2,
                batch_size=2, learning_rate=1e-3, logging_steps=1, save_steps=1, dtype="float32")
    return SFTOptions(**{**base, **kw})


def test_loss_is_on_the_completion_only_and_every_processor_field_is_kept(tiny_model, tiny_data, tmp_path):
    trainer, processor, samples = build_sft_trainer(options(tiny_model, tiny_data, tmp_path, batch_size=1))
    batch = next(iter(trainer.get_train_dataloader()))
    expected = {"input_ids", "attention_mask", "pixel_values", "image_grid_thw", "mm_token_type_ids", "labels"}
    assert expected <= set(batch)
    labelled = batch["labels"][0][batch["labels"][0] != -100]
    text = processor.tokenizer.decode(labelled)
    # the trainer shuffles; the labelled text must be the target of one of the samples, and only that
    targets = {target_text(s, "action_answer") for s in samples}
    assert text.removesuffix("<|im_end|>\n").removesuffix("<|im_end|>") in targets
    n_images = batch["image_grid_thw"].shape[0]
    assert n_images == samples[0].num_views or n_images in {s.num_views for s in samples}


def test_sft_trains_saves_and_skips_when_finished(tiny_model, tiny_data, tmp_path):
    opts = options(tiny_model, tiny_data, tmp_path / "sft")
    metrics = run_sft(opts)
    assert [h["step"] for h in metrics["log_history"] if "loss" in h] == [1, 2]
    stage = json.loads((tmp_path / "sft" / "stage.json").read_text())
    assert stage["options"]["target"] == "action_answer" and stage["metrics"]["samples"] == len(
        load_samples(tiny_data))
    trained, _ = load_model_and_processor(tmp_path / "sft" / "model", dtype="float32")
    start, _ = load_model_and_processor(tiny_model, dtype="float32")
    changed = [n for (n, a), b in zip(trained.named_parameters(), start.parameters(), strict=True)
               if not torch.equal(a, b)]
    assert changed, "no weight changed"
    assert load_file(tmp_path / "sft" / "checkpoint-2" / "model.safetensors")  # checkpoints are safetensors
    assert list((tmp_path / "sft").glob("runs/*/events.out.tfevents.*")), "no TensorBoard log"
    assert run_sft(opts) == {"skipped": "already finished"}


def test_resume_after_a_kill_gives_the_uninterrupted_result(tiny_model, tiny_data, tmp_path):
    straight = tmp_path / "straight"
    run_sft(options(tiny_model, tiny_data, straight, max_steps=3))
    resumed = tmp_path / "resumed"
    run_sft(options(tiny_model, tiny_data, resumed, max_steps=3))
    # simulate a kill after step 2: checkpoint-2 survived, nothing was finished
    shutil.rmtree(resumed / "checkpoint-3")
    shutil.rmtree(resumed / "model")
    (resumed / "stage.json").unlink()
    assert newest_complete_checkpoint(resumed) == str(resumed / "checkpoint-2")
    run_sft(options(tiny_model, tiny_data, resumed, max_steps=3))
    a = load_file(straight / "model" / "model.safetensors")
    b = load_file(resumed / "model" / "model.safetensors")
    for name in a:  # a resume that restarted from the initial weights would differ after its one step
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)


def test_lora_trains_adapters_and_saves_a_merged_plain_checkpoint(tiny_model, tiny_data, tmp_path):
    run_sft(options(tiny_model, tiny_data, tmp_path, lora=True, lora_r=4, max_steps=1, target="answer"))
    assert not list((tmp_path / "model").glob("adapter_*")), "final model must be merged"
    trained, _ = load_model_and_processor(tmp_path / "model", dtype="float32")
    start, _ = load_model_and_processor(tiny_model, dtype="float32")
    before, after = dict(start.named_parameters()), dict(trained.named_parameters())
    vision = [n for n in before if ".visual." in n]
    assert vision and all(torch.equal(before[n], after[n]) for n in vision)
    assert any(not torch.equal(before[n], after[n]) for n in before if "language_model" in n and "q_proj" in n)


def test_bad_options_name_the_key(tiny_model, tiny_data, tmp_path):
    with pytest.raises(ValueError, match="target must be one of answer, action_answer"):
        options(tiny_model, tiny_data, tmp_path, target="essay")
    with pytest.raises(ValueError, match="fraction must be in"):
        run_sft(options(tiny_model, tiny_data, tmp_path, fraction=0.0))


def test_the_caption_target_trains_one_row_per_view_on_its_caption(tiny_model, tiny_data, tmp_path):
    trainer, processor, samples = build_sft_trainer(options(tiny_model, tiny_data, tmp_path, target="caption",
                                                            batch_size=1))
    views = {path: text for s in samples for path, text in zip(s.images, s.captions, strict=True)}
    assert len(trainer.train_dataset) == len(views)  # each distinct view once
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch["image_grid_thw"].shape[0] == 1  # one view per row
    labelled = processor.tokenizer.decode(batch["labels"][0][batch["labels"][0] != -100])
    assert labelled.removesuffix("\n").removesuffix("<|im_end|>") in set(views.values())


def test_a_caption_share_mixes_caption_rows_into_question_rows(tiny_data):
    from hatchvl.train.data import sft_dataset

    samples = load_samples(tiny_data, "train")
    rows = sft_dataset(tiny_data, samples, "answer", caption_share=0.25, seed=1)
    assert len(rows) == len(samples) + round(len(samples) / 3)  # a quarter of all rows
    captions = [r for r in rows if len(r["images"]) == 1 and "Describe the image" in str(r["prompt"])]
    assert len(captions) == round(len(samples) / 3)
    bare = [s.__class__(**{**s.__dict__, "captions": ()}) for s in samples]
    with pytest.raises(ValueError, match=r"sample '.*' has no captions"):
        sft_dataset(tiny_data, bare, "caption")
    with pytest.raises(ValueError, match="caption_share must be in"):
        SFTOptions(model="m", data="d", out="o", target="caption", caption_share=0.5)
