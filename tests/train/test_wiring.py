"""Wiring from the manifest to the model's inputs: each sample's views, poses / action targets and image tokens.

Nothing else in the suite would notice if these were permuted or dropped on the way: the tiny demo
trains, its loss falls and its rewards log whether or not the model sees the right images (a model that
ignores its images passes every other check). Here each stage's inputs are built by the code the stage
runs and compared with the manifest, read as plain JSON (`train.jsonl`):

- SFT (`build_sft_trainer`: `train.data.sft_dataset`, then TRL's collator and the processor): row i
  holds sample i's views in order and its own actions and answer; in a batch, every view's
  `pixel_values` rows are the processor's patches of that view's file (and decode back to its pixels),
  every view has one run of grid_thw.prod() / merge² image-pad tokens, in order, `mm_token_type_ids`
  marks exactly those, and the labelled text is that sample's target.
- GRPO (`build_grpo_trainer`: `train.data.prompt_dataset` and `reward_functions`): row i carries sample
  i's id and views in order; sample X's own target text scores 1 on the answer and about 1 on the
  actions for X's prompt, and less for every other prompt.
- captions (`sft_dataset(..., "caption")`, the pretrain stage): every row shows one view file and has that
  view's manifest caption as its completion.
- PaStA (`PastaDataset`, `PastaCollator`, `load_supervision`): every item's views are its sample's
  views in order; pair_x, pair_y and S follow `all_pairs` order, and each S equals the overlap recomputed
  from the manifest's depth maps, K and c2w; the PaStA cells of S line up with the image token grid.

Every view file is repainted with a mosaic whose colours name the file and the PaStA cell, so no two
views look alike and a misplaced cell shows. The images are 112 px: the tiny processor keeps that size
(no resampling, so patches decode to the file exactly) and its 4 x 4 merged tokens are the 4 x 4 cells.
Each check also runs on a deliberately broken copy (views reversed, targets, ids or overlaps swapped,
one image's tokens dropped, a token grid transposed) and must fail there: the checks have teeth.
"""


from pathlib import Path

import numpy as np
import pytest
import torch

from hatchvl.data.format import read_manifest
from hatchvl.objectives.prompts import target_text
from hatchvl.train.data import sft_dataset
from hatchvl.train.options import SFTOptions
from hatchvl.train.sft import build_sft_trainer
from tests.train.wiring import (
    check_prompt,
    check_row_images,
    check_target,
    check_view_patches,
    file_pixels,
    fresh_rows,
    image_processor,
    reverse_views_of_a_row,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.fixture(scope="module")
def sft(tiny_model, data, tmp_path_factory):
    opts = SFTOptions(model=str(tiny_model), data=str(data), out=str(tmp_path_factory.mktemp("sft")),
                      target="action_answer", batch_size=3, dtype="float32")
    trainer, processor, _ = build_sft_trainer(opts)
    return trainer, processor


def completion_text(row: dict) -> str:
    (turn,) = row["completion"]
    return "".join(block["text"] for block in turn["content"] if block["type"] == "text")


def check_sft_rows(rows: list[dict], records: list[dict], root: Path):
    """Row i is sample i of the manifest: its views in order, its question, its own actions and answer."""
    assert len(rows) == len(records), f"{len(rows)} rows for {len(records)} samples"
    for i, (row, record) in enumerate(zip(rows, records, strict=True)):
        where = f"row {i} ({record['id']})"
        check_row_images(row["images"], record, root, where)
        check_prompt(row["prompt"], record, where)
        check_target(completion_text(row), record, where)


def runs(flags: torch.Tensor) -> list[tuple[int, int]]:
    """(start, length) of every run of True in a 1-D bool tensor."""
    found, start = [], None
    for k, flag in enumerate([*flags.tolist(), False]):
        if flag and start is None:
            start = k
        elif not flag and start is not None:
            found.append((start, k - start))
            start = None
    return found


def labelled_text(batch: dict, row: int, processor) -> str:
    labels = batch["labels"][row]
    text = processor.tokenizer.decode(labels[labels != -100])
    return text.removesuffix("\n").removesuffix("<|im_end|>")


def check_sft_batch(batch: dict, records: list[dict], root: Path, processor):
    """Row i of a collated batch is the sample of records[i]: its views' patches in order, one run of image
    tokens per view of the right length, mm_token_type_ids on exactly those, and its own target as labels."""
    image_token = processor.image_token_id
    merge = image_processor(processor).merge_size
    views = sum(len(r["images"]) for r in records)
    assert batch["input_ids"].shape[0] == len(records), "one row per sample"
    assert batch["image_grid_thw"].shape[0] == views, f"{batch['image_grid_thw'].shape[0]} images for {views} views"
    patch_counts = batch["image_grid_thw"].prod(-1)
    assert batch["pixel_values"].shape[0] == int(patch_counts.sum()), "pixel_values rows do not match the grids"
    view, patch = 0, 0
    for i, record in enumerate(records):
        where = f"row {i} ({record['id']})"
        ids = batch["input_ids"][i]
        is_image = ids == image_token
        assert torch.equal(batch["mm_token_type_ids"][i], is_image.to(batch["mm_token_type_ids"].dtype)), \
            f"{where}: mm_token_type_ids do not mark the image tokens"
        assert not (is_image & (batch["attention_mask"][i] == 0)).any(), f"{where}: masked image tokens"
        tokens = [length for _, length in runs(is_image)]
        n_views = len(record["images"])
        expected = [int(n) // merge**2 for n in patch_counts[view:view + n_views]]
        assert tokens == expected, f"{where}: image token runs {tokens}, its views' grids give {expected}"
        assert int(is_image.sum()) == sum(expected)
        prompt = processor.tokenizer.decode(ids[(batch["attention_mask"][i] == 1) & (batch["labels"][i] == -100)])
        labels = [f"Image {k + 1}:<|vision_start|><|image_pad|>" for k in range(n_views)]
        positions = [prompt.find(label) for label in labels]
        assert -1 not in positions and positions == sorted(positions), f"{where}: views are not introduced in order"
        assert record["question"].strip() in prompt, f"{where}: the prompt does not ask {record['id']}'s question"
        for k, path in enumerate(record["images"]):
            n = int(patch_counts[view])
            check_view_patches(batch["pixel_values"][patch:patch + n], batch["image_grid_thw"][view], root, path,
                               processor, f"{where} view {k}")
            view, patch = view + 1, patch + n
        check_target(labelled_text(batch, i, processor), record, where)


def test_sft_rows_hold_each_samples_views_in_order_and_its_own_target(sft, data, records):
    trainer, _ = sft
    check_sft_rows(fresh_rows(trainer.train_dataset), records, data)


def test_sft_batches_give_each_view_its_own_patches_and_image_tokens(sft, data, records):
    trainer, processor = sft
    # the whole split in manifest order, through the trainer's collator
    check_sft_batch(trainer.data_collator(fresh_rows(trainer.train_dataset)), records, data, processor)
    # the batches training draws (shuffled): each row must be whole, whichever sample its labels name
    by_target = {target_text(s, "action_answer"): r for s, r in zip(read_manifest(data), records, strict=True)}
    seen = []
    for batch in trainer.get_train_dataloader():
        texts = [labelled_text(batch, i, processor) for i in range(batch["input_ids"].shape[0])]
        assert all(t in by_target for t in texts), "a labelled text is no sample's target"
        check_sft_batch(batch, [by_target[t] for t in texts], data, processor)
        seen += [by_target[t]["id"] for t in texts]
    assert sorted(seen) == sorted(r["id"] for r in records)


def swap_two_targets(rows: list[dict]) -> None:
    rows[0]["completion"], rows[-1]["completion"] = rows[-1]["completion"], rows[0]["completion"]


@pytest.mark.parametrize(("fault", "in_rows", "in_batch"), [
    (reverse_views_of_a_row, "image 0 is not", "view 0: pixel_values are not the patches"),
    (swap_two_targets, "actions are not those", "actions are not those"),
])
def test_sft_checks_catch_reversed_views_and_swapped_targets(sft, data, records, fault, in_rows, in_batch):
    trainer, processor = sft
    rows = fresh_rows(trainer.train_dataset)
    fault(rows)
    with pytest.raises(AssertionError, match=in_rows):
        check_sft_rows(rows, records, data)
    with pytest.raises(AssertionError, match=in_batch):
        check_sft_batch(trainer.data_collator(rows), records, data, processor)


def drop_one_images_tokens(batch: dict, processor, records: list[dict]) -> None:
    """Delete the image tokens of row 0's second view (the row keeps its length: padding at the end)."""
    ids = batch["input_ids"][0]
    start, length = runs(ids == processor.image_token_id)[1]
    keep = torch.ones_like(ids, dtype=torch.bool)
    keep[start:start + length] = False
    fills = {"input_ids": processor.tokenizer.pad_token_id, "attention_mask": 0, "labels": -100,
             "mm_token_type_ids": 0}
    for key, fill in fills.items():
        row = batch[key][0]
        batch[key][0] = torch.cat([row[keep], torch.full((length,), fill, dtype=row.dtype)])


def swap_patches_of_two_samples_views(batch: dict, processor, records: list[dict]) -> None:
    """Exchange the pixel_values of the first view of the first and of the last sample (other scenes)."""
    assert records[0]["images"][0] != records[-1]["images"][0]
    starts = torch.cat([torch.zeros(1, dtype=torch.long), batch["image_grid_thw"].prod(-1).cumsum(0)]).tolist()
    last = len(starts) - 1 - len(records[-1]["images"])
    a, b = slice(starts[0], starts[1]), slice(starts[last], starts[last + 1])
    pixels = batch["pixel_values"]
    pixels[a], pixels[b] = pixels[b].clone(), pixels[a].clone()


@pytest.mark.parametrize(("fault", "message"), [
    (drop_one_images_tokens, r"row 0 .*image token runs \[16, 16\]"),
    (swap_patches_of_two_samples_views, "row 0 .* view 0: pixel_values are not the patches"),
])
def test_sft_batch_check_catches_dropped_image_tokens_and_swapped_patches(sft, data, records, fault, message):
    trainer, processor = sft
    batch = trainer.data_collator(fresh_rows(trainer.train_dataset))
    fault(batch, processor, records)
    with pytest.raises(AssertionError, match=message):
        check_sft_batch(batch, records, data, processor)


# -- captions (the miniature's pretraining) ------------------------------------------------------------------


def check_caption_rows(rows: list[dict], records: list[dict], root: Path):
    """Every caption row shows one view file and has, as its completion, the manifest's caption of that view."""
    captions = {path: text for r in records for path, text in zip(r["images"], r["captions"], strict=True)}
    assert len(rows) == len(captions), f"{len(rows)} caption rows for {len(captions)} distinct views"
    for i, row in enumerate(rows):
        (image,) = row["images"]
        pixels = np.asarray(image.convert("RGB"))
        path = next((p for p in captions if np.array_equal(pixels, file_pixels(root, p))), None)
        assert path is not None, f"caption row {i}: its image is no view of the split"
        assert completion_text(row) == captions[path], f"caption row {i}: not the caption of {path}"


def test_caption_rows_pair_each_view_with_its_own_caption(data, records):
    samples = read_manifest(data, "train")
    rows = fresh_rows(sft_dataset(data, samples, "caption"))
    check_caption_rows(rows, records, data)
    rows[0]["completion"], rows[1]["completion"] = rows[1]["completion"], rows[0]["completion"]
    with pytest.raises(AssertionError, match="caption row 0: not the caption of"):
        check_caption_rows(rows, records, data)
