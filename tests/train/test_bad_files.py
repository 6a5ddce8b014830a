"""A bad file in a training split (issue 16): a truncated PNG (SFT) and an empty depth map (PaStA) stop the
command with exit code 2 and one message naming the split, the sample and the file; with --skip-bad the
stage finishes, stage.json lists each skipped sample, and the others are trained in exactly the order of a
run whose manifest never held the bad ones (recorded where each image is decoded)."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hatchvl.cli.main import app
from hatchvl.data.badfiles import BadSampleError
from hatchvl.data.format import read_manifest
from hatchvl.train import pasta_data
from hatchvl.train.data import DecodeViews, sft_dataset

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")
TRAIN = ["report_to=[]", "save_steps=100", "dtype=float32", "batch_size=2", "logging_steps=1"]


def broken_copy(data: Path, root: Path, field: str, damage) -> tuple[Path, Path, str, list[str]]:
    """(a copy with the first train sample's file `field`[0] damaged, a copy whose manifest leaves out every
    sample using that file, the file, those samples' ids)."""
    shutil.copytree(data, root / "bad")
    shutil.copytree(data, root / "clean")
    samples = read_manifest(data, "train")
    file = getattr(samples[0], field)[0]
    users = [s.id for s in samples if file in getattr(s, field)]
    damage(root / "bad" / file)
    manifest = root / "clean" / "train.jsonl"
    manifest.write_text("".join(line + "\n" for line in manifest.read_text().splitlines()
                                if json.loads(line)["id"] not in users))
    return root / "bad", root / "clean", file, users


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def check_refused(result, file: str, users: list[str]) -> None:
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert f"split 'train': sample '{users[0]}': {file}" in error and "skip_bad=true" in error, error


def check_listed(out: Path, file: str, users: list[str], reason: str) -> None:
    metrics = json.loads((out / "stage.json").read_text())["metrics"]
    assert metrics["skipped_samples"] == len(users)
    assert [(b["split"], b["id"], b["file"]) for b in metrics["bad_samples"]] == [("train", i, file) for i in users]
    assert all(reason in b["reason"] for b in metrics["bad_samples"])


def test_a_truncated_image_stops_sft_or_is_skipped_leaving_the_order(tiny_model, tiny_data, tmp_path, monkeypatch):
    bad, clean, file, users = broken_copy(tiny_data, tmp_path, "images", truncate)
    command = ["train", "sft", "--model", str(tiny_model), "--target", "answer", *TRAIN]
    check_refused(runner.invoke(app, [*command, "--data", str(bad), "--out", str(tmp_path / "refused")]), file, users)
    assert not (tmp_path / "refused" / "stage.json").exists()

    decoded: list[str] = []
    real = DecodeViews.decode
    monkeypatch.setattr(DecodeViews, "decode", lambda self, path: (decoded.append("/".join(Path(path).parts[-3:])),
                                                                   real(self, path))[1])
    orders = {}
    for name, data, flags in (("skipped", bad, ["--skip-bad"]), ("clean", clean, [])):
        decoded.clear()
        result = runner.invoke(app, [*command, *flags, "--data", str(data), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        orders[name] = list(decoded)
    assert orders["skipped"] == orders["clean"] and file not in orders["skipped"]
    assert len(orders["clean"]) > len(read_manifest(clean, "train"))  # a whole epoch of views was recorded
    check_listed(tmp_path / "skipped", file, users, "cannot be decoded (image file is truncated)")


def test_an_empty_depth_map_stops_pasta_or_is_skipped_leaving_the_order(tiny_model, tiny_data, tmp_path,
                                                                        monkeypatch):
    bad, clean, file, users = broken_copy(tiny_data, tmp_path, "depths", empty)
    command = ["train", "pasta", "--model", str(tiny_model), *TRAIN]
    check_refused(runner.invoke(app, [*command, "--data", str(bad), "--out", str(tmp_path / "refused")]), file, users)

    trained: list[str] = []
    real = pasta_data._open
    monkeypatch.setattr(pasta_data, "_open", lambda item, path: (trained.append(item["id"]), real(item, path))[1])
    orders = {}
    for name, data, flags in (("skipped", bad, ["--skip-bad"]), ("clean", clean, [])):
        trained.clear()
        result = runner.invoke(app, [*command, *flags, "--data", str(data), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        orders[name] = list(trained)
    assert orders["skipped"] == orders["clean"] and not set(users) & set(orders["skipped"])
    assert set(orders["clean"]) == {s.id for s in read_manifest(clean, "train")}  # every sample of one epoch
    check_listed(tmp_path / "skipped", file, users, "is empty")


def test_a_file_damaged_inside_is_named_when_a_training_row_decodes_it(tiny_data, tmp_path):
    """The check before training reads a file's ends; damage inside shows when the row is read, and is named."""
    root = tmp_path / "data"
    shutil.copytree(tiny_data, root)
    samples = read_manifest(root, "train")
    path = root / samples[0].images[0]
    data = bytearray(path.read_bytes())
    start = data.find(b"IDAT") + 20
    data[start:start + 30] = bytes(b ^ 0x5A for b in data[start:start + 30])
    path.write_bytes(bytes(data))
    dataset = sft_dataset(root, samples, "answer", split="train")
    with pytest.raises(BadSampleError, match=rf"split 'train': sample '{samples[0].id}': {path} cannot be decoded"):
        dataset[0]
