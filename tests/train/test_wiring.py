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
- PaStA (`PastaDataset`, `PastaCollator`, `load_supervision`): every item's views are its sample's
  views in order; pair_x, pair_y and S follow `all_pairs` order, and each S equals the overlap recomputed
  from the manifest's depth maps, K and c2w; the PaStA cells of S line up with the image token grid.

Every view file is repainted with a mosaic whose colours name the file and the PaStA cell, so no two
views look alike and a misplaced cell shows. The images are 112 px: the tiny processor keeps that size
(no resampling, so patches decode to the file exactly) and its 4 x 4 merged tokens are the 4 x 4 cells.
Each check also runs on a deliberately broken copy (views reversed, targets, ids or overlaps swapped,
one image's tokens dropped, a token grid transposed) and must fail there: the checks have teeth.
"""

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers.modeling_outputs import BaseModelOutputWithPooling

from hatchvl.data.format import read_manifest
from hatchvl.data.supervision import load_supervision
from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.geometry.camera import cell_of_pixels
from hatchvl.geometry.overlap import symmetric_overlap
from hatchvl.models.backbone import grids_from_tower_output
from hatchvl.models.loading import load_model_and_processor
from hatchvl.objectives.pasta import pool_cells
from hatchvl.objectives.prompts import target_text
from hatchvl.objectives.rewards import RewardConfig, reward_target
from hatchvl.train.grpo import build_grpo_trainer, reward_functions
from hatchvl.train.options import GRPOOptions, SFTOptions
from hatchvl.train.pasta_data import PastaCollator, PastaDataset
from hatchvl.train.sft import build_sft_trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GRID = 4
SIZE = 112
TARGET = re.compile(r"^<action>(.*)</action>\n<answer>(.*)</answer>$", re.DOTALL)


# -- the data: a small synthetic split whose every view file is a unique mosaic ------------------------------


def manifest(root: Path) -> list[dict]:
    """The train split as the manifest file holds it (plain JSON, not hatchvl's reader)."""
    return [json.loads(line) for line in (root / "train.jsonl").read_text().splitlines() if line.strip()]


def file_pixels(root: Path, path: str) -> np.ndarray:
    with Image.open(root / path) as image:
        return np.asarray(image.convert("RGB"))


def cell_index(height: int, width: int) -> np.ndarray:
    """The PaStA cell of every pixel, as the overlaps count them (row-major over the GRID x GRID cells)."""
    rows, cols = cell_of_pixels(height, width, GRID)
    return rows[:, None] * GRID + cols[None, :]


def mosaic(number: int, height: int = SIZE, width: int = SIZE) -> np.ndarray:
    """Flat colour per PaStA cell; red names the file, green the cell, blue mixes both."""
    cell = cell_index(height, width)
    channels = [np.full_like(cell, 20 + 9 * number), 8 + 15 * cell, (60 + 37 * number + 71 * cell) % 256]
    return np.stack(channels, -1).astype(np.uint8)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wiring-data")
    synthesize(root, SynthConfig(scenes=2, seed=0, views=(2, 3), size=SIZE, samples_per_scene=3,
                                 split=(1.0, 0.0, 0.0)))
    records = manifest(root)
    files = sorted({path for record in records for path in record["images"]})
    assert len(files) <= 24  # red stays below 256
    for number, path in enumerate(files):
        Image.fromarray(mosaic(number)).save(root / path)
    # what the checks rely on: 2- and 3-view samples, from two scenes, sharing some view files
    assert {len(r["images"]) for r in records} == {2, 3} and len({r["scene_id"] for r in records}) == 2
    assert len(files) < sum(len(r["images"]) for r in records)
    return root


@pytest.fixture(scope="module")
def records(data) -> list[dict]:
    return manifest(data)


def image_processor(processor):
    return getattr(processor, "image_processor", processor)


def unpatchify(patches: torch.Tensor, thw: torch.Tensor, processor) -> np.ndarray:
    """The (H, W, 3) uint8 image of one view's pixel_values rows: merge blocks row-major, patches row-major
    inside a block, each patch (C, T, p, p), normalised by the processor's mean and std."""
    ip = image_processor(processor)
    _, h, w = thw.tolist()
    m, p = ip.merge_size, ip.patch_size
    x = patches.reshape(h // m, w // m, m, m, 3, -1, p, p)[:, :, :, :, :, 0]
    x = x.permute(4, 0, 2, 5, 1, 3, 6).reshape(3, h * p, w * p)
    mean, std = (torch.tensor(v, dtype=x.dtype)[:, None, None] for v in (ip.image_mean, ip.image_std))
    pixels = (x * std + mean) / ip.rescale_factor
    return pixels.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def check_view_patches(patches: torch.Tensor, thw: torch.Tensor, root: Path, path: str, processor, where: str):
    """One view's rows of pixel_values and its image_grid_thw are the processor's output for the file at path."""
    pixels = file_pixels(root, path)
    expected = image_processor(processor)(images=[pixels], return_tensors="pt")
    assert torch.equal(thw, expected["image_grid_thw"][0]), f"{where}: grid {thw.tolist()} is not that of {path}"
    assert patches.shape == expected["pixel_values"].shape, f"{where}: {len(patches)} patch rows for {path}"
    assert torch.equal(patches, expected["pixel_values"]), f"{where}: pixel_values are not the patches of {path}"
    diff = np.abs(unpatchify(patches, thw, processor).astype(int) - pixels).max()
    assert diff <= 1, f"{where}: the patches decode to another image than {path} (max difference {diff})"


def check_row_images(images: list, record: dict, root: Path, where: str):
    """A dataset row's decoded images are the record's view files, in order."""
    assert len(images) == len(record["images"]), f"{where}: {len(images)} images, sample has {len(record['images'])}"
    for k, (image, path) in enumerate(zip(images, record["images"], strict=True)):
        assert np.array_equal(np.asarray(image.convert("RGB")), file_pixels(root, path)), \
            f"{where}: image {k} is not {path}"


def check_prompt(prompt: list[dict], record: dict, where: str):
    """The user turn introduces every view ("Image k:" then an image placeholder) and asks the record's question."""
    (turn,) = prompt
    blocks = turn["content"]
    expected = [block for k in range(len(record["images"])) for block in (("text", f"Image {k + 1}:"), ("image", None))]
    got = [(b["type"], b["text"] if b["type"] == "text" else None) for b in blocks[:-1]]
    assert got == expected, f"{where}: prompt blocks {got}"
    assert blocks[-1]["text"].startswith(record["question"].strip()), f"{where}: not the question of {record['id']}"


def check_target(text: str, record: dict, where: str):
    """A target text holds exactly the record's actions (as the manifest writes them) and answer."""
    match = TARGET.match(text)
    assert match, f"{where}: not an action-then-answer target: {text!r}"
    assert json.loads(match.group(1)) == record["actions"], f"{where}: actions are not those of {record['id']}"
    assert match.group(2) == record["answer"], f"{where}: answer {match.group(2)!r} is not that of {record['id']}"


# -- SFT ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sft(tiny_model, data, tmp_path_factory):
    opts = SFTOptions(model=str(tiny_model), data=str(data), out=str(tmp_path_factory.mktemp("sft")),
                      target="action_answer", batch_size=3, dtype="float32")
    trainer, processor, _ = build_sft_trainer(opts)
    return trainer, processor


def fresh_rows(dataset) -> list[dict]:
    """The dataset's rows, decoded anew (TRL's collator rewrites the rows it gets)."""
    return [dataset[i] for i in range(len(dataset))]


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


def reverse_views_of_a_row(rows: list[dict]) -> None:
    row = next(r for r in rows if len(r["images"]) == 3)
    row["images"] = row["images"][::-1]


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


# -- GRPO ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grpo(tiny_model, data, tmp_path_factory):
    opts = GRPOOptions(model=str(tiny_model), data=str(data), out=str(tmp_path_factory.mktemp("grpo")),
                       batch_size=2, num_generations=2, dtype="float32")
    trainer, _, _ = build_grpo_trainer(opts)
    return trainer


def check_prompt_rows(rows: list[dict], records: list[dict], root: Path):
    """Prompt row i carries sample i's id, its views in order and its question."""
    assert len(rows) == len(records), f"{len(rows)} prompt rows for {len(records)} samples"
    for i, (row, record) in enumerate(zip(rows, records, strict=True)):
        where = f"prompt row {i} ({record['id']})"
        assert row["sample_id"] == record["id"], f"{where}: carries sample_id {row['sample_id']!r}"
        check_row_images(row["images"], record, root, where)
        check_prompt(row["prompt"], record, where)


def own_targets(root: Path, records: list[dict]) -> list[str]:
    """The target text of each manifest sample, in manifest order."""
    by_id = {s.id: s for s in read_manifest(root)}
    return [target_text(by_id[r["id"]], "action_answer") for r in records]


def trainer_rewards(trainer, rows: list[dict], texts: list[str]) -> np.ndarray:
    """(len(texts), 3) format, action and answer rewards as the GRPO trainer computes them (its reward functions,
    called with the dataset's columns) for completion texts[k] of prompt rows[k]."""
    completions = [[{"role": "assistant", "content": text}] for text in texts]
    rewards = trainer._calculate_rewards(rows, [row["prompt"] for row in rows], completions, [[] for _ in texts])
    return rewards.numpy()


def check_rewards(trainer, rows: list[dict], targets: list[str]):
    """For prompt row i, the target text of sample i (targets[i], from the manifest) is well formed, scores 1
    on the answer and about 1 on the actions, and scores more than the target of any other sample; in a batch
    of all the rows, each row's own target scores so."""
    assert trainer.reward_func_names == ["format", "action", "answer"]
    assert len(set(targets)) == len(targets), "samples with equal targets cannot tell a swap"
    for i, row in enumerate(rows):
        where = f"prompt row {i} ({row['sample_id']})"
        fmt, action, answer = trainer_rewards(trainer, [row] * len(targets), targets).T
        assert (fmt == 1).all(), f"{where}: a target is not well formed"
        assert answer[i] == 1.0, f"{where}: its own answer scores {answer[i]}"
        assert action[i] > 0.95, f"{where}: its own actions score {action[i]:.3f}"  # the text rounds the motion
        own = action[i] + answer[i]
        others = np.delete(action + answer, i)
        assert others.max() < own - 0.05, f"{where}: another sample's target scores {others.max():.3f} >= {own:.3f}"
    _, action, answer = trainer_rewards(trainer, rows, targets).T
    assert (answer == 1).all() and (action > 0.95).all(), "a batch of prompts scores rows against other samples"


def test_grpo_prompt_rows_carry_their_own_sample_id_and_views(grpo, data, records):
    check_prompt_rows(fresh_rows(grpo.train_dataset), records, data)


def test_grpo_rewards_score_each_samples_target_highest_on_its_own_prompt(grpo, data, records):
    check_rewards(grpo, fresh_rows(grpo.train_dataset), own_targets(data, records))


def test_grpo_checks_catch_swapped_ids_reversed_views_and_swapped_targets(grpo, data, records, monkeypatch):
    targets = own_targets(data, records)
    # prompts and sample ids out of step: the first and the last row (two scenes) exchange ids
    rows = fresh_rows(grpo.train_dataset)
    rows[0]["sample_id"], rows[-1]["sample_id"] = rows[-1]["sample_id"], rows[0]["sample_id"]
    with pytest.raises(AssertionError, match="prompt row 0 .*: carries sample_id"):
        check_prompt_rows(rows, records, data)
    with pytest.raises(AssertionError, match="prompt row 0 .*: its own (answer|actions) score"):
        check_rewards(grpo, rows, targets)
    # a row's views reversed
    rows = fresh_rows(grpo.train_dataset)
    reverse_views_of_a_row(rows)
    with pytest.raises(AssertionError, match="image 0 is not"):
        check_prompt_rows(rows, records, data)
    # rewards that score two samples against each other's targets
    samples = read_manifest(data)
    swapped = {s.id: reward_target(s) for s in samples}
    a, b = samples[0].id, samples[-1].id
    swapped[a], swapped[b] = swapped[b], swapped[a]
    monkeypatch.setattr(grpo, "reward_funcs", reward_functions(swapped, RewardConfig()))
    with pytest.raises(AssertionError, match="prompt row 0 .*: its own (answer|actions) score"):
        check_rewards(grpo, fresh_rows(grpo.train_dataset), targets)


# -- PaStA --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pasta(tiny_model, data, records):
    """(dataset, model, processor, expected S per sample id from the manifest's geometry)."""
    samples, sup = load_supervision(data, "train", grid=GRID)
    assert not sup.bad
    dataset = PastaDataset(data, samples, sup)
    model, processor = load_model_and_processor(tiny_model, dtype="float32")
    expected = {}
    for record in records:
        depth = [np.load(data / p) for p in record["depths"]]
        assert all(d.shape == (SIZE, SIZE) for d in depth)  # K, stored for the images, fits the depth maps
        K, c2w = np.asarray(record["K"]), np.asarray(record["c2w"])
        expected[record["id"]] = [symmetric_overlap(depth[i], K[i], c2w[i], depth[j], K[j], c2w[j], grid=GRID)
                                  for i, j in itertools.combinations(range(len(depth)), 2)]
    return dataset, model, processor, expected


def check_pasta_batch(batch: dict, items: list[dict], records: list[dict], root: Path, processor, expected: dict):
    """Item b of a collated PaStA batch is the sample of records[b]: its views' patches in order, and for its
    pairs (i, j), i < j in order, pair_x / pair_y pointing at its views i and j, S the overlap recomputed from
    the manifest for those two views, and weight 1 / its pair count."""
    assert [item["id"] for item in items] == [r["id"] for r in records], "items are not the manifest's samples"
    pairs = [list(itertools.combinations(range(len(r["images"])), 2)) for r in records]
    total_views, total_pairs = sum(len(r["images"]) for r in records), sum(len(p) for p in pairs)
    assert batch["image_grid_thw"].shape[0] == total_views, "one image per view"
    assert batch["S"].shape == (total_pairs, GRID**2, GRID**2), f"S {tuple(batch['S'].shape)}"
    assert batch["pair_x"].shape == batch["pair_y"].shape == batch["pair_weight"].shape == (total_pairs,)
    counts = batch["image_grid_thw"].prod(-1)
    view, patch, pair = 0, 0, 0
    for b, (record, sample_pairs) in enumerate(zip(records, pairs, strict=True)):
        where = f"item {b} ({record['id']})"
        for (i, j), S in zip(sample_pairs, expected[record["id"]], strict=True):
            assert (int(batch["pair_x"][pair]), int(batch["pair_y"][pair])) == (view + i, view + j), \
                f"{where}: pair {pair} does not point at its views {i} and {j}"
            assert np.allclose(batch["S"][pair].numpy(), S, atol=1e-6), f"{where}: S of pair {pair} is not ({i}, {j})"
            assert float(batch["pair_weight"][pair]) == pytest.approx(1 / len(sample_pairs))
            pair += 1
        for k, path in enumerate(record["images"]):
            n = int(counts[view])
            check_view_patches(batch["pixel_values"][patch:patch + n], batch["image_grid_thw"][view], root, path,
                               processor, f"{where} view {k}")
            view, patch = view + 1, patch + n


def cell_colours(batch: dict, model, processor) -> torch.Tensor:
    """(views, n², 3) colour of every PaStA cell as the feature path sees it: each merged token's mean colour
    (the processor's merge blocks), split into grids like the merger's output and pooled to cells like the
    features."""
    ip = image_processor(processor)
    m, p = ip.merge_size, ip.patch_size
    patches = batch["pixel_values"].reshape(-1, 3, ip.temporal_patch_size * p * p).mean(-1)
    tokens = patches.reshape(-1, m * m, 3).mean(1)
    mean, std = (torch.tensor(v, dtype=tokens.dtype) for v in (ip.image_mean, ip.image_std))
    tokens = (tokens * std + mean) / ip.rescale_factor
    grids = grids_from_tower_output(model, BaseModelOutputWithPooling(pooler_output=tokens), batch["image_grid_thw"])
    return pool_cells(grids, GRID)


def check_cells_line_up(batch: dict, paths: list[str], root: Path, model, processor):
    """Cell k of every view's pooled tokens covers the pixels that S counts in cell k (`cell_of_pixels`)."""
    cells = cell_colours(batch, model, processor)
    assert cells.shape[0] == len(paths)
    for view, path in enumerate(paths):
        pixels = file_pixels(root, path).astype(np.float64)
        index = cell_index(*pixels.shape[:2])
        expected = np.stack([pixels[index == k].mean(0) for k in range(GRID**2)])
        diff = np.abs(cells[view].numpy() - expected).max()
        assert diff < 0.5, f"view {view} ({path}): pooled token cells miss the PaStA cells by {diff:.1f} levels"


def pasta_batch(dataset, processor, items=None):
    items = [dict(item) for item in dataset] if items is None else items
    return items, PastaCollator(processor)(items)


def test_pasta_batch_pairs_each_samples_views_with_their_own_overlaps(pasta, data, records, tmp_path):
    dataset, _, processor, expected = pasta
    items, batch = pasta_batch(dataset, processor)
    check_pasta_batch(batch, items, records, data, processor, expected)
    # the stage reads S from its cache when it resumes: the cached S must belong to the same samples and pairs
    load_supervision(data, "train", grid=GRID, cache_dir=tmp_path)
    samples, cached = load_supervision(data, "train", grid=GRID, cache_dir=tmp_path)
    assert cached.from_cache
    items, batch = pasta_batch(PastaDataset(data, samples, cached), processor)
    check_pasta_batch(batch, items, records, data, processor, expected)


def test_pasta_cells_line_up_with_the_image_token_grid(pasta, data, records, tmp_path):
    dataset, model, processor, _ = pasta
    _, batch = pasta_batch(dataset, processor)
    merged = batch["image_grid_thw"][:, 1:] // image_processor(processor).merge_size
    assert (merged == GRID).all(), "this data should give one merged token per PaStA cell"
    check_cells_line_up(batch, [p for r in records for p in r["images"]], data, model, processor)
    # rows and columns must not be confused: views wider than high (4 x 8 merged tokens, no resampling)
    paths = ["wide0.png", "wide1.png"]
    for number, path in enumerate(paths):
        Image.fromarray(mosaic(number, SIZE, 2 * SIZE)).save(tmp_path / path)
    item = {"id": "wide", "images": [str(tmp_path / p) for p in paths], "S": np.zeros((1, GRID**2, GRID**2))}
    _, batch = pasta_batch(dataset, processor, [item])
    assert batch["image_grid_thw"][:, 1:].tolist() == [[8, 16]] * 2
    check_cells_line_up(batch, paths, tmp_path, model, processor)


def reverse_views_of_an_item(items: list[dict]) -> None:
    item = next(item for item in items if len(item["images"]) == 3)
    item["images"] = item["images"][::-1]


def put_pairs_out_of_order(items: list[dict]) -> None:
    item = next(item for item in items if len(item["images"]) == 3)
    item["S"] = np.ascontiguousarray(item["S"][::-1])


def swap_two_samples_overlaps(items: list[dict]) -> None:
    items[0]["S"], items[-1]["S"] = items[-1]["S"], items[0]["S"]


@pytest.mark.parametrize(("fault", "message"), [
    (reverse_views_of_an_item, "view 0: pixel_values are not the patches"),
    (put_pairs_out_of_order, r"S of pair 0 is not \(0, 1\)"),
    (swap_two_samples_overlaps, r"item 0 .*S of pair 0 is not \(0, 1\)"),
])
def test_pasta_batch_check_catches_reversed_views_and_misplaced_overlaps(pasta, data, records, fault, message):
    dataset, _, processor, expected = pasta
    items = [dict(item) for item in dataset]
    fault(items)
    _, batch = pasta_batch(dataset, processor, items)
    with pytest.raises(AssertionError, match=message):
        check_pasta_batch(batch, items, records, data, processor, expected)


def test_pasta_cell_check_catches_a_transposed_token_grid(pasta, data, records):
    dataset, model, processor, _ = pasta
    _, batch = pasta_batch(dataset, processor)
    m = image_processor(processor).merge_size
    h, w = (batch["image_grid_thw"][0, 1:] // m).tolist()
    first = slice(0, h * w * m * m)  # the first view's patches: merge blocks (h, w), read as (w, h)
    blocks = batch["pixel_values"][first].reshape(h, w, m * m, -1)
    batch["pixel_values"][first] = blocks.transpose(0, 1).reshape(h * w * m * m, -1).clone()
    with pytest.raises(AssertionError, match="view 0"):
        check_cells_line_up(batch, [p for r in records for p in r["images"]], data, model, processor)
