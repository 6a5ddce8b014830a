"""The sees curve during training: own vs swapped views on a fixed held-out subset, logged without
touching the training itself."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import hatchvl.objectives.sampling as sampling
from hatchvl.data.blind import swap_donors
from hatchvl.data.format import read_manifest
from hatchvl.train.grpo import run_grpo
from hatchvl.train.options import GRPOOptions, SFTOptions
from hatchvl.train.sees_curve import SeesCurveSpec, measure_sees
from hatchvl.train.sft import run_sft


def sft_options(tiny_model, tiny_data, out, **kw):
    base = dict(model=str(tiny_model), data=str(tiny_data), out=str(out), target="answer", max_steps=3,
                batch_size=2, learning_rate=1e-3, logging_steps=1, save_steps=10, dtype="float32")
    return SFTOptions(**{**base, **kw})


def points(metrics: dict) -> list[dict]:
    return [h for h in metrics["log_history"] if "sees" in h]


def test_sft_logs_a_point_at_the_start_and_every_n_steps_and_trains_as_without_it(tiny_model, tiny_data, tmp_path):
    plain = run_sft(sft_options(tiny_model, tiny_data, tmp_path / "plain"))
    curved = run_sft(sft_options(tiny_model, tiny_data, tmp_path / "curved", sees_every=2, sees_limit=3,
                                 sees_max_new_tokens=4))
    assert points(plain) == []
    got = points(curved)
    assert [p["step"] for p in got] == [0, 2, 3]  # the start, every 2 steps, the last step
    for p in got:  # 3 items: no interval (below stats.MIN_ITEMS_FOR_INTERVAL)
        assert p["sees"] == pytest.approx(p["sees_own"] - p["sees_swapped"]) and p["sees_ci"] is None
    a = load_file(tmp_path / "plain" / "model" / "model.safetensors")
    b = load_file(tmp_path / "curved" / "model" / "model.safetensors")
    for name in a:  # generating in between changed neither the weights nor the data order
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    assert list((tmp_path / "curved").glob("runs/*/events.out.tfevents.*"))


def test_grpo_logs_answer_and_action_sees(tiny_model, tiny_data, tmp_path):
    opts = GRPOOptions(model=str(tiny_model), data=str(tiny_data), out=str(tmp_path / "grpo"), max_steps=1,
                       batch_size=4, num_generations=2, max_completion_length=8, learning_rate=1e-4,
                       dtype="float32", save_steps=10, sees_every=1, sees_split="train", sees_limit=4,
                       sees_max_new_tokens=4)
    got = points(run_grpo(opts))
    assert [p["step"] for p in got] == [0, 1]
    assert {"sees", "action_sees", "format_rate"} <= set(got[0])


def test_a_model_that_reads_its_views_gets_the_full_gap(tiny_data, monkeypatch):
    """measure_sees pairs each item's answer with its own views and with the swapped ones: a 'model' that
    answers right exactly when it is shown the item's own views scores 100 with them, and with the
    swapped views only where the donor's views are the same files."""
    samples = read_manifest(tiny_data, "train")
    answers = {(s.question, tuple(s.images)): s.answer for s in samples}

    def answer_if_own(model, processor, conversations, images, max_new_tokens, temperature=0.0):
        out = []
        for conversation, shown in zip(conversations, images, strict=True):
            question = conversation[0]["content"][-1]["text"].split("\n")[0]
            paths = tuple(str(Path(i.filename).relative_to(tiny_data)) for i in shown)
            out.append(answers.get((question, paths), "Z"))
        return out

    real_open = sampling.open_sample_image

    def open_keeping_name(root, split, sample_id, path):
        image = real_open(root, split, sample_id, path)
        image.filename = str(Path(root) / path)
        return image

    monkeypatch.setattr(sampling, "generate_texts", answer_if_own)
    monkeypatch.setattr(sampling, "open_sample_image", open_keeping_name)
    spec = SeesCurveSpec(data=tiny_data, split="train", limit=len(samples), every=1, style="answer",
                         max_new_tokens=4)
    point = measure_sees(None, None, spec)
    donors = swap_donors([s.num_views for s in samples], 0)
    same = sum(samples[d].images == s.images for s, d in zip(samples, donors, strict=True)) / len(samples)
    assert same < 1
    assert point["sees_own"] == 100.0 and point["sees_swapped"] == pytest.approx(100 * same)
    assert point["sees"] == pytest.approx(100 * (1 - same))


def test_a_subset_the_blind_control_cannot_swap_fails_before_training(tiny_model, tiny_data, tmp_path):
    with pytest.raises(ValueError, match="the sees curve .split 'val'.: the blind control cannot swap"):
        run_sft(sft_options(tiny_model, tiny_data, tmp_path / "sft", sees_every=1, sees_limit=2))
    assert not (tmp_path / "sft" / "stage.json").exists()
